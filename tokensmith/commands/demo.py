"""`tokensmith demo`: the whole flow, offline, with nothing to set up.

It compiles the quickstart config (embedded below, a copy of `examples/quickstart/tokensmith.yaml`)
into a temporary bundle, starts `tokensmith serve` on a free loopback port with fresh random
secrets, mints a token as the quickstart login service would, exchanges it over real HTTP, prints
the request, the response and the issued token decoded, and stops the server. When the issued
token lives less than the service's `expires_in` because the subject token expires first, it
says so.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUICKSTART_YAML = """\
# yaml-language-server: $schema=../../schema/tokensmith.schema.json
# tokensmith quickstart: exchange a token from your own login service for a token of `my-service`.
#
# The login service signs its tokens with HS256 and a shared secret; tokensmith verifies them,
# keeps `sub` and `email`, and issues its own HS256 token for `my-service`.
# Set before `tokensmith serve`:
#   QUICKSTART_IDP_SECRET   the secret your login service signs its tokens with
#   TOKENSMITH_SIGNING_KEY  a random secret of at least 32 bytes for the issued tokens
# `tokensmith check` and `tokensmith compile` never read them: secrets are references.
version: 1
issuer: https://tokens.example.com/

signing_keys:
  quickstart_key:
    algorithm: HS256
    secret: {env: TOKENSMITH_SIGNING_KEY}

identity_providers:
  quickstart:
    issuer: https://login.example.com/
    audience: tokensmith-quickstart
    secret: {env: QUICKSTART_IDP_SECRET}
    algorithms: [HS256]
    mapping:
      sub.$: $.sub
      email.$: $.email

token_providers:
  my-service:
    signing_key: quickstart_key
    expires_in: 15m
    mapping:
      sub.$: $.sub
      email.$: $.email

tests:
  - name: a quickstart user is exchanged
    service: my-service
    token: {iss: https://login.example.com/, aud: tokensmith-quickstart, sub: user-1, email: ada@example.com}
    expect:
      identity_provider: quickstart
      claims: {act: {sub: user-1, email: ada@example.com}}
  - name: a token without an email keeps only the subject
    service: my-service
    token: {iss: https://login.example.com/, aud: tokensmith-quickstart, sub: user-2}
    expect:
      claims_subset: {act: {sub: user-2}}
  - name: a token for another audience is refused
    service: my-service
    token: {iss: https://login.example.com/, aud: another-app, sub: user-1}
    expect: {error: invalid_request}
"""

IDP_ISSUER = "https://login.example.com/"
IDP_AUDIENCE = "tokensmith-quickstart"
SERVICE = "my-service"
#: The minted subject token expires this long after it is issued: less than `my-service`'s
#: `expires_in`, so the demo shows the issued token capped by it.
SUBJECT_TOKEN_SECONDS = 300
START_TIMEOUT_SECONDS = 20.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow on the embedded quickstart, offline",
        description="Compile the quickstart config, serve it on a free loopback port with fresh "
        "random secrets, exchange a freshly minted token over HTTP and show every step.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="tokensmith-demo-") as tmp:
        bundle_dir = os.path.join(tmp, "bundle")
        config_path = Path(tmp, "tokensmith.yaml")
        config_path.write_text(QUICKSTART_YAML, encoding="utf-8")
        _step("1. compile the quickstart config")
        compiled = _compile(str(config_path), bundle_dir)
        if compiled is None:
            return 1
        revision, expires_in = compiled
        print(f"   bundle {bundle_dir}\n   revision {revision}")
        idp_secret = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            "QUICKSTART_IDP_SECRET": idp_secret,
            "TOKENSMITH_SIGNING_KEY": secrets.token_urlsafe(32),
        }
        port = _free_port()
        _step(f"2. serve it: tokensmith serve <bundle> --port {port} (fresh random secrets)")
        log_path = os.path.join(tmp, "server.log")
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "tokensmith", "serve", bundle_dir, "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                return _exchange_demo(url, server, idp_secret, env, expires_in)
            finally:
                _stop(server)
                _show_log(log_path)


def _compile(config_path: str, bundle_dir: str) -> tuple[str, tuple[str, int]] | None:
    """The bundle's revision and `my-service`'s `expires_in` (as written, in seconds)."""
    from tokensmith import __version__
    from tokensmith.compiler.bundle import build_bundle
    from tokensmith.compiler.bundle_files import write_bundle
    from tokensmith.compiler.check import check_path
    from tokensmith.runtime.bundle import load_bundle_files

    result = check_path(config_path)
    if not result.ok:
        print("tokensmith demo: the embedded quickstart does not check", file=sys.stderr)
        return None
    files = build_bundle(result, version=__version__)
    bundle = load_bundle_files(files, origin=bundle_dir)
    write_bundle(files, bundle_dir)
    service = result.config.token_providers[SERVICE] if result.config is not None else None
    seconds = service.expires_in_seconds if service is not None else None
    if service is None or seconds is None:
        return None
    return bundle.revision, (str(service.expires_in), seconds)


def _exchange_demo(
    url: str,
    server: subprocess.Popen[bytes],
    idp_secret: str,
    env: dict[str, str],
    expires_in: tuple[str, int],
) -> int:
    if not _wait_ready(url, server):
        print("tokensmith demo: the server did not become ready", file=sys.stderr)
        return 1
    print(f"   ready: GET {url}/readyz -> 200")
    _step("3. the quickstart login service signs a token for its user (HS256)")
    subject_token = _mint(idp_secret)
    _step("4. exchange it over HTTP")
    status, body = _post(url, subject_token)
    if status != 200:
        return 1
    _explain_lifetime(body["expires_in"], expires_in)
    _step("5. the issued token, decoded and verified with the service's signing key")
    _show_issued(body["access_token"], env["TOKENSMITH_SIGNING_KEY"])
    return 0


def _mint(idp_secret: str) -> str:
    import jwt

    now = int(time.time())
    claims = {"iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "sub": "user-1",
              "email": "ada@example.com", "iat": now, "exp": now + SUBJECT_TOKEN_SECONDS}
    _show_json("claims", claims)
    return jwt.encode(claims, idp_secret, "HS256")


def _post(url: str, subject_token: str) -> tuple[int, dict[str, Any]]:
    import httpx

    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "audience": SERVICE,
    }
    print(f"   POST {url}/tokens\n   Content-Type: application/x-www-form-urlencoded")
    for name, value in form.items():
        shown = value if name != "subject_token" else f"{value[:24]}... ({len(value)} chars)"
        print(f"     {name}={shown}")
    response = httpx.post(f"{url}/tokens", data=form, timeout=10)
    print(f"\n   HTTP {response.status_code}")
    for name in ("content-type", "cache-control", "x-request-id", "x-tokensmith-revision"):
        if name in response.headers:
            print(f"   {name}: {response.headers[name]}")
    body: dict[str, Any] = response.json()
    _show_json("body", body)
    return response.status_code, body


def _explain_lifetime(issued: int, configured: tuple[str, int]) -> None:
    """Why `expires_in` is less than the service's: the subject token expires first."""
    written, seconds = configured
    if issued >= seconds:
        return
    print(
        f"\n   expires_in is {issued}, not the {seconds} s ({written}) that `{SERVICE}` sets:"
        "\n   an issued token never outlives its subject token, and this one expires"
        f"\n   {SUBJECT_TOKEN_SECONDS} s after it was minted. A token provider that sets"
        "\n   `outlive_subject_token: true` issues its full `expires_in` instead."
    )


def _show_issued(token: str, signing_secret: str) -> None:
    import jwt

    _show_json("header", jwt.get_unverified_header(token))
    verified = jwt.decode(
        token, signing_secret, ["HS256"], audience=SERVICE, issuer="https://tokens.example.com/"
    )
    _show_json("claims", verified)


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> bool:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        # SIGINT, as Ctrl-C: the server stops at once (SIGTERM would drain for 5 s first)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f"\n   server (pid {server.pid}) stopped")


def _show_log(path: str) -> None:
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    access = [line for line in lines if line.startswith("{")]
    if access:
        print("   its access log (one JSON line per request, never a token):")
        for line in access[-2:]:
            print(f"     {line}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _step(title: str) -> None:
    print(f"\n{title}")


def _show_json(label: str, value: Any) -> None:
    text = json.dumps(value, indent=2, sort_keys=False)
    print(f"   {label}:")
    for line in text.splitlines():
        print(f"     {line}")
