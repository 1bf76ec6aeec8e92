"""A fault-injecting HTTP(S) server on 127.0.0.1 for the JWKS tests, and keys to sign with.

`FaultServer` runs in its own thread with its own event loop, so a client that blocked the event
loop under test could not hide it, and counts every request it receives per path (with times and
bytes sent). Each path answers with a `Reply`: a normal response, or a fault (hang, slow drip,
endless or huge body, connection closed). `tls_contexts()` makes a throwaway CA and a server
certificate for 127.0.0.1. `TestKey` is an RSA or EC key pair with its public JWK and a signer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tokensmith.runtime.errors import KeyIdPending, KeysNotReady, UnknownKeyId
from tokensmith.runtime.jwks import JwksCache, JwksPolicy
from tokensmith.runtime.model import IdentityProviderSpec

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """What one path answers. `mode`: normal, hang, drip, stream (huge/endless), close."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    mode: str = "normal"
    interval: float = 0.0  # drip: seconds between bytes
    total: int | None = None  # stream: bytes to send (None: endless)
    declare_length: bool = True
    delay: float = 0.0  # seconds before answering (a slow but honest server)

    @classmethod
    def json(cls, document: Any, **headers: str) -> Reply:
        headers = {"Content-Type": "application/json", **_header_names(headers)}
        return cls(200, json.dumps(document).encode(), headers)

    @classmethod
    def raw(cls, body: bytes, content_type: str | None = "application/json", *,
            status: int = 200, **headers: str) -> Reply:
        all_headers = _header_names(headers)
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        return cls(status, body, all_headers)

    @classmethod
    def hang(cls) -> Reply:
        return cls(mode="hang")

    @classmethod
    def drip(cls, document: Any, interval: float) -> Reply:
        return cls(body=json.dumps(document).encode(), mode="drip", interval=interval,
                   headers={"Content-Type": "application/json"})

    @classmethod
    def stream(cls, total: int | None, *, declare_length: bool) -> Reply:
        return cls(mode="stream", total=total, declare_length=declare_length,
                   headers={"Content-Type": "application/json"})

    @classmethod
    def close(cls) -> Reply:
        return cls(mode="close")


def _header_names(headers: Mapping[str, str]) -> dict[str, str]:
    """`cache_control="x"` -> `Cache-Control: x`."""
    return {"-".join(p.capitalize() for p in k.split("_")): v for k, v in headers.items()}




class FaultServer:
    """An HTTP/1.1 server on 127.0.0.1 in a thread of its own; one request per connection."""

    def __init__(self, *, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self._tls = tls
        self._routes: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = {}
        self._sent: dict[str, int] = {}
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._transports: list[asyncio.BaseTransport] = []
        self._accepted = 0
        self._open = 0
        self._received = 0
        self._stopping = False

    def __enter__(self) -> FaultServer:
        self._thread.start()
        if not self._started.wait(5):
            raise RuntimeError("the fault server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def url(self, path: str = "/jwks") -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def set(self, path: str, reply: Reply) -> None:
        with self._lock:
            self._routes[path] = reply

    def count(self, path: str = "/jwks") -> int:
        with self._lock:
            return len(self._times.get(path, ()))

    def times(self, path: str = "/jwks") -> list[float]:
        """`time.monotonic()` of each request to `path`."""
        with self._lock:
            return list(self._times.get(path, ()))

    def bytes_sent(self, path: str = "/jwks") -> int:
        with self._lock:
            return self._sent.get(path, 0)

    def accepted(self) -> int:
        """Connections accepted so far (TCP; before any TLS handshake or request)."""
        with self._lock:
            return self._accepted

    def bytes_received(self) -> int:
        """Bytes received on all connections (decrypted, with TLS): a request, a ClientHello..."""
        with self._lock:
            return self._received

    def open_connections(self) -> int:
        """Accepted connections whose handler has not finished. One waiting for its request (or
        its TLS handshake) finishes as soon as the client closes its end; one in a `hang` reply
        only when the server stops."""
        with self._lock:
            return self._open

    # -- the server thread --------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda _loop, _context: None)  # TLS handshakes we refuse
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # TLS is started by each handler, not by the listener, so that `_transports` holds every
        # accepted socket (one still in its handshake too) and stopping closes them all.
        server = await loop.create_server(
            self._protocol, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        await self._stop.wait()
        server.close()
        self._stopping = True  # a connection accepted from now on is closed as it is made
        await asyncio.sleep(0)  # let accepts already under way make their transports
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        # Every accepted connection is closed, even one whose handler had not started yet;
        # transports close their sockets in a later loop iteration, so give them one.
        for transport in self._transports:
            _abort(transport)
        await asyncio.sleep(0.05)
        await server.wait_closed()

    def _protocol(self) -> asyncio.StreamReaderProtocol:
        fault = self

        class Protocol(asyncio.StreamReaderProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                fault._transports.append(transport)
                super().connection_made(transport)
                if fault._stopping:
                    _abort(transport)

            def data_received(self, data: bytes) -> None:
                with fault._lock:
                    fault._received += len(data)
                super().data_received(data)

        return Protocol(asyncio.StreamReader(), self._handle)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        with self._lock:
            self._accepted += 1
            self._open += 1
        try:
            if self._tls is not None:
                await writer.start_tls(self._tls)
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?")[0]
            with self._lock:
                self._times.setdefault(path, []).append(time.monotonic())
                reply = self._routes.get(path, Reply.raw(b"not found", "text/plain", status=404))
            await self._answer(reply, path, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            with self._lock:
                self._open -= 1

    async def _answer(self, reply: Reply, path: str, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(reply.delay)
        if reply.mode == "close":
            return
        if reply.mode == "hang":
            assert self._stop is not None
            await self._stop.wait()
            return
        length = reply.total if reply.mode == "stream" else len(reply.body)
        lines = [f"HTTP/1.1 {reply.status} X", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in reply.headers.items()]
        if length is not None and reply.declare_length:
            lines.append(f"Content-Length: {length}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        if reply.mode == "drip":
            for i in range(len(reply.body)):
                await self._send(writer, path, reply.body[i : i + 1])
                await asyncio.sleep(reply.interval)
        elif reply.mode == "stream":
            remaining = reply.total
            while remaining is None or remaining > 0:
                size = CHUNK if remaining is None else min(CHUNK, remaining)
                await self._send(writer, path, b" " * size)
                remaining = None if remaining is None else remaining - size
        else:
            await self._send(writer, path, reply.body)

    async def _send(self, writer: asyncio.StreamWriter, path: str, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        with self._lock:
            self._sent[path] = self._sent.get(path, 0) + len(data)


def _abort(transport: asyncio.BaseTransport) -> None:
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


# -- TLS ------------------------------------------------------------------------------------------


def tls_contexts(*, expired: bool = False) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a certificate for 127.0.0.1, client context trusting its test CA).

    `expired`: the server certificate ran out a day ago (the CA is still valid).
    """
    now = datetime.datetime.now(datetime.UTC)
    leaf_end = now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokensmith test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(leaf_end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server, client


# -- keys and signatures --------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int, length: int | None = None) -> str:
    return b64url(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))


class TestKey:
    """A private key for signing test tokens and its public JWK (`rsa` 2048 or `ec` P-256)."""

    __test__ = False  # not a pytest test class

    def __init__(self, kid: str | None, kind: str = "rsa") -> None:
        self.kid = kid
        self.alg = "RS256" if kind == "rsa" else "ES256"
        self._private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            rsa.generate_private_key(65537, 2048) if kind == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )

    def jwk(self, kid: str | None = "", **extra: Any) -> dict[str, Any]:
        """The public JWK; `kid` overrides the key's own ("" keeps it, None leaves it out)."""
        kid = self.kid if kid == "" else kid
        jwk: dict[str, Any]
        if isinstance(self._private, rsa.RSAPrivateKey):
            numbers = self._private.public_key().public_numbers()
            jwk = {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
        else:
            point = self._private.public_key().public_numbers()
            jwk = {"kty": "EC", "crv": "P-256", "x": _int_b64(point.x, 32),
                   "y": _int_b64(point.y, 32)}
        if kid is not None:
            jwk["kid"] = kid
        return {**jwk, **extra}

    def private_jwk(self) -> dict[str, Any]:
        """The JWK with the private exponent `d`: what an IdP must never publish."""
        assert isinstance(self._private, rsa.RSAPrivateKey)
        return {**self.jwk(), "d": _int_b64(self._private.private_numbers().d)}

    def sign(self, signing_input: bytes = b"header.payload") -> tuple[bytes, bytes]:
        """(signing input, JWS signature) under this key's algorithm."""
        if isinstance(self._private, rsa.RSAPrivateKey):
            return signing_input, self._private.sign(
                signing_input, padding.PKCS1v15(), hashes.SHA256()
            )
        der = self._private.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input, r.to_bytes(32, "big") + s.to_bytes(32, "big")


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


# -- the cache as the app drives it ---------------------------------------------------------------

# Small numbers so that every policy shows within a second; no routine refresh unless a test
# sends Cache-Control (ttl_default is long).
POLICY = JwksPolicy(
    ttl_min=0.2, ttl_max=60.0, ttl_default=60.0, refresh_jitter=0.0, unknown_kid_cooldown=0.5,
    fetch_deadline=1.0, backoff_initial=0.05, backoff_max=0.2, retry_after_max=2.0,
)


@contextlib.asynccontextmanager
async def running(*specs: IdentityProviderSpec, policy: JwksPolicy = POLICY,
                  verify: ssl.SSLContext | None = None) -> AsyncIterator[JwksCache]:
    """A started cache, closed on exit."""
    cache = JwksCache(specs, policy=policy, verify=verify)
    await cache.start()
    try:
        yield cache
    finally:
        await cache.aclose()


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> float:
    """Poll `predicate` every 5 ms; the seconds it took to hold (AssertionError at `timeout`)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


def idp(name: str, url: str | None, *, algorithms: tuple[str, ...] = ("RS256",),
        discovery: bool = False, issuer: str | None = None,
        allow_insecure_http: bool = True) -> IdentityProviderSpec:
    """A remote identity provider spec with only the fields the JWKS cache reads."""
    return IdentityProviderSpec(
        name=name, issuer=issuer, audience=None, algorithms=algorithms, leeway=0,
        jwks_url=url, discovery=discovery, allow_insecure_http=allow_insecure_http,
        jwks=None, secret=None, has_require=False,
    )


def refetch_allowed(cache: JwksCache, name: str) -> bool:
    """True when a token with an unknown kid would cause a refetch now (cooldown, backoff over)."""
    try:
        cache.source(name).candidates("a-kid-nobody-publishes", "RS256")
    except UnknownKeyId:
        return True
    except KeysNotReady:  # no refetch allowed yet, after a failed fetch: undecidable, a 503
        return False
    return False


async def accepts(cache: JwksCache, name: str, key: TestKey, kid: str | None = "",
                  signed: tuple[bytes, bytes] | None = None, wait: float = 1.0) -> bool:
    """Whether a token signed by `key` verifies, following the app's flow.

    As `runtime/app.py` does: on `UnknownKeyId` ask for one refetch and retry once; on
    `KeysNotReady` wait for keys up to a short deadline and retry once (then it raises, a 503);
    `KeyIdPending` (an unknown kid during the refetch cooldown, a 503) is raised at once.
    """
    kid = key.kid if kid == "" else kid
    signing_input, signature = signed or key.sign()
    source = cache.source(name)
    for attempt in (1, 2):
        try:
            candidates = source.candidates(kid, key.alg)
        except UnknownKeyId:
            if attempt == 2:
                return False
            await cache.refetch_for_unknown_kid(name, kid)
            continue
        except KeyIdPending:
            raise
        except KeysNotReady:
            if attempt == 2 or not await cache.wait_ready(name, wait):
                raise
            continue
        return any(k.verify(key.alg, signing_input, signature) for k in candidates)
    raise AssertionError("unreachable")
