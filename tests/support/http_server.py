"""Test helpers: hand-built bundles and the real server (uvicorn + uvloop + httptools) in a thread.

Bundles are written here directly in the `tokensmith-bundle/1` format (manifest, config.json,
a small hand-written mappings.py) so that the HTTP tests depend on the runtime only; the CLI
tests go through `tokensmith compile` as a user would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import jwt.algorithms
import uvicorn
import uvloop
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.types import ASGIApp

from tokensmith.runtime.bundle import revision_of
from tokensmith.runtime.server import server_options
from tokensmith.runtime.startup import Runtime, prepare

#: Mappings for the test bundles: keep `sub`, `email` and `role` when present.
MAPPINGS_SOURCE = '''\
def _keep(claims, context):
    return {k: claims[k] for k in ("sub", "email", "role") if k in claims}


def _verified(claims, context):
    return claims.get("email_verified") is True


IDENTITY_PROVIDER_MAPPINGS = {name: _keep for name in IDPS}
IDENTITY_PROVIDER_REQUIREMENTS = {name: _verified for name in REQUIRE}
TOKEN_PROVIDER_MAPPINGS = {name: _keep for name in SERVICES}
'''


#: What `_keep` does, as a config mapping: config.json carries it for the listings.
KEEP_MAPPING = {"sub.$": "$.sub", "email.$": "$.email", "role.$": "$.role"}


def bundle_files(config: Mapping[str, Any]) -> dict[str, bytes]:
    """The three files of a bundle for `config` (config.json format `tokensmith-config/1`)."""
    idps = sorted(config["identity_providers"])
    require = sorted(n for n, v in config["identity_providers"].items() if v.get("has_require"))
    services = sorted(config["token_providers"])
    mappings = (
        f"IDPS = {idps!r}\nREQUIRE = {require!r}\nSERVICES = {services!r}\n\n" + MAPPINGS_SOURCE
    ).encode()
    content = {
        "config.json": (json.dumps(config, indent=2, sort_keys=True) + "\n").encode(),
        "mappings.py": mappings,
    }
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in content.items()}
    manifest = {
        "format": "tokensmith-bundle/1",
        "compiler": "tokensmith tests",
        "revision": revision_of(hashes),
        "files": {n: {"sha256": hashes[n], "size": len(d)} for n, d in content.items()},
    }
    return {**content, "manifest.json": (json.dumps(manifest, indent=2) + "\n").encode()}


def write_bundle(directory: Path, config: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in bundle_files(config).items():
        (directory / name).write_bytes(data)
    return directory


def idp(
    *,
    issuer: str | None,
    audience: str | None,
    algorithms: list[str],
    secret_env: str | None = None,
    jwks: Mapping[str, Any] | None = None,
    jwks_url: str | None = None,
    has_require: bool = False,
) -> dict[str, Any]:
    """One identity provider entry of config.json."""
    return {
        "issuer": issuer,
        "audience": audience,
        "algorithms": algorithms,
        "leeway": 60,
        "jwks_url": jwks_url,
        "discovery": False,
        "allow_insecure_http": jwks_url is not None,
        "jwks": None if jwks is None else dict(jwks),
        "secret": None if secret_env is None else {"env": secret_env, "encoding": "utf8"},
        "has_require": has_require,
        "mapping": KEEP_MAPPING,
    }


def token_provider(
    service: str, signing_key: str, identity_providers: list[str] | None = None
) -> dict[str, Any]:
    return {
        "signing_key": signing_key,
        "expires_in": 900,
        "audience": service,
        "issuer": "https://tokens.example.com/",
        "identity_providers": identity_providers,
        "claims": "act",
        "outlive_subject_token": False,
        "mapping": KEEP_MAPPING,
    }


def config(
    identity_providers: Mapping[str, Any],
    token_providers: Mapping[str, Any],
    signing_keys: Mapping[str, Any],
    cors: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "format": "tokensmith-config/1",
        "issuer": "https://tokens.example.com/",
        "cors": None if cors is None else {"allow_origins": cors},
        "signing_keys": dict(signing_keys),
        "identity_providers": dict(identity_providers),
        "token_providers": dict(token_providers),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(bundle: Path, env: Mapping[str, str], *extra: str) -> Iterator[tuple[str, Path]]:
    """`tokensmith serve BUNDLE` as a subprocess on a free port until `/readyz` is 200; stopped
    by its PID on the way out. Yields the base URL and the path of its log."""
    port = free_port()
    log_path = bundle.parent / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tokensmith", "serve", str(bundle), "--port", str(port), *extra],
            env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "server did not become ready"
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            yield url, log_path
        finally:
            # SIGINT, as Ctrl-C: no drain (SIGTERM would keep it serving for 5 s first)
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class RunningServer:
    """uvicorn serving `app` on a free 127.0.0.1 port in a thread with its own uvloop loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options = server_options("127.0.0.1", self.port)
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@contextmanager
def running(app: ASGIApp) -> Iterator[RunningServer]:
    """Serve `app` for the duration of the block, then stop the server."""
    server = RunningServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- a world of keys, a bundle that uses them, and tokens -------------------------------------

ISSUER_HS = "https://login.example.com/"
AUDIENCE_HS = "tokensmith-tests"
MARKER = "Zq7MARKERzq7"  # a recognisable string put in tokens and claims; must never be echoed


class World:
    """Keys and a config exercising HS256, RS256 and ES256 identity providers and signers."""

    def __init__(self, cors: list[str] | None = None) -> None:
        self.idp_secret = secrets.token_urlsafe(32)
        self.verified_secret = secrets.token_urlsafe(32)
        self.signing_secret = secrets.token_urlsafe(32)
        self.rsa_key = _RSA_KEY
        self.es_key = ec.generate_private_key(ec.SECP256R1())
        self.es_signing_key = ec.generate_private_key(ec.SECP256R1())
        self.env = {
            "IDP_SECRET": self.idp_secret,
            "VERIFIED_SECRET": self.verified_secret,
            "SIGNING_SECRET": self.signing_secret,
            "ES_SIGNING_KEY": private_pem(self.es_signing_key),
        }
        self.config = self._config(cors)

    def _config(self, cors: list[str] | None) -> dict[str, Any]:
        return config(
            identity_providers={
                "quickstart": idp(
                    issuer=ISSUER_HS, audience=AUDIENCE_HS, algorithms=["HS256"],
                    secret_env="IDP_SECRET",
                ),
                "rsa": idp(
                    issuer="https://rsa.example.com/", audience="rsa-aud", algorithms=["RS256"],
                    jwks={"keys": [_public_jwk(self.rsa_key, "rsa-1", "RS256")]},
                ),
                "es": idp(
                    issuer="https://es.example.com/", audience="es-aud", algorithms=["ES256"],
                    jwks={"keys": [_public_jwk(self.es_key, "es-1", "ES256")]},
                ),
                "verified": idp(
                    issuer="https://verified.example.com/", audience=AUDIENCE_HS,
                    algorithms=["HS256"], secret_env="VERIFIED_SECRET", has_require=True,
                ),
            },
            token_providers={
                "my-service": token_provider("my-service", "sbk_test"),
                "es-service": token_provider("es-service", "es_sign"),
                "only-rsa": token_provider("only-rsa", "sbk_test", ["rsa"]),
            },
            signing_keys={
                "sbk_test": {"algorithm": "HS256", "secret": {"env": "SIGNING_SECRET"},
                             "private_key": None},
                "es_sign": {"algorithm": "ES256", "secret": None,
                            "private_key": {"env": "ES_SIGNING_KEY"}},
            },
            cors=cors,
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER_HS, "aud": AUDIENCE_HS, "sub": "user-1", "email": "ada@example.com",
            "iat": now, "exp": now + 600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def hs_token(self, headers: Mapping[str, Any] | None = None, **overrides: Any) -> str:
        return jwt.encode(self.claims(**overrides), self.idp_secret, "HS256", dict(headers or {}))

    def rs_token(self, **overrides: Any) -> str:
        claims = self.claims(iss="https://rsa.example.com/", aud="rsa-aud", **overrides)
        return jwt.encode(claims, self.rsa_key, "RS256", {"kid": "rsa-1"})

    def es_token(self, **overrides: Any) -> str:
        claims = self.claims(iss="https://es.example.com/", aud="es-aud", **overrides)
        return jwt.encode(claims, self.es_key, "ES256", {"kid": "es-1"})

    def runtime(self, directory: Path) -> Runtime:
        write_bundle(directory, self.config)
        return prepare(str(directory), self.env)


def form(token: str, audience: str = "my-service", **extra: str) -> dict[str, str]:
    """The form State Backed's client posts (no subject_token_type)."""
    fields = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "audience": audience,
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    fields.update(extra)
    return fields


def private_pem(key: Any) -> str:
    """A private key as unencrypted PKCS#8 PEM text."""
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


def _public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.get_default_algorithms()[alg]
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
