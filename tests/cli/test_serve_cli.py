"""`tokensmith serve` as a user runs it: compile the quickstart, serve it, exchange, stop."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.http_server import free_port, serving

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
MARKER = "Zq7MARKERzq7"


def tokensmith(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        capture_output=True, text=True, timeout=30, env=env, check=False,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "bundle"
    result = tokensmith("compile", str(QUICKSTART), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def secrets_env() -> dict[str, str]:
    return {
        **os.environ,
        "QUICKSTART_IDP_SECRET": secrets.token_urlsafe(32),
        "TOKENSMITH_SIGNING_KEY": secrets.token_urlsafe(32),
    }


def subject_token(env: Mapping[str, str], **overrides: object) -> str:
    now = int(time.time())
    claims = {"iss": "https://login.example.com/", "aud": "tokensmith-quickstart",
              "sub": "user-1", "iat": now, "exp": now + 300, **overrides}
    return jwt.encode(claims, env["QUICKSTART_IDP_SECRET"], "HS256")


def exchange(url: str, token: str) -> httpx.Response:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "audience": "https://tokens.statebacked.dev/org_x/my-service",
    }
    return httpx.post(url + "/tokens", data=form, timeout=10)


def test_serve_exchanges_and_logs_json_without_tokens(bundle: Path) -> None:
    env = secrets_env()
    with serving(bundle, env) as (url, log_path):
        good = exchange(url, subject_token(env, email=MARKER + "@example.com"))
        assert good.status_code == 200, good.text
        issued = jwt.decode(good.json()["access_token"], env["TOKENSMITH_SIGNING_KEY"],
                            ["HS256"], audience="my-service")
        assert issued["act"]["email"] == MARKER + "@example.com"
        refused = exchange(url, subject_token(env, sub=MARKER, exp=1))
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_request"
        # lines are buffered, and flushed within a second while the server runs
        deadline = time.monotonic() + 3
        while '"outcome":"expired"' not in log_path.read_text():
            assert time.monotonic() < deadline, "the access log was not flushed"
            time.sleep(0.1)
    log = log_path.read_text()
    assert MARKER not in log
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    outcomes = [r["outcome"] for r in records if r["path"] == "/tokens"]
    assert outcomes == ["issued", "expired"]


def test_serve_with_two_workers(bundle: Path) -> None:
    env = secrets_env()
    with serving(bundle, env, "--workers", "2") as (url, _):
        for _ in range(4):
            assert exchange(url, subject_token(env)).status_code == 200


def test_missing_secrets_are_all_listed_and_exit_1(bundle: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("QUICKSTART_IDP_SECRET", "TOKENSMITH_SIGNING_KEY")}
    result = tokensmith("serve", str(bundle), "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "QUICKSTART_IDP_SECRET" in result.stderr
    assert "TOKENSMITH_SIGNING_KEY" in result.stderr


def test_short_secret_is_refused_without_printing_it(bundle: Path) -> None:
    env = {**secrets_env(), "TOKENSMITH_SIGNING_KEY": "short-" + MARKER}
    result = tokensmith("serve", str(bundle), "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "TOKENSMITH_SIGNING_KEY" in result.stderr or "quickstart_key" in result.stderr
    assert MARKER not in result.stderr + result.stdout


def test_tampered_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    copy.mkdir()
    for name in ("manifest.json", "config.json", "mappings.py"):
        (copy / name).write_bytes((bundle / name).read_bytes())
    original = (bundle / "config.json").read_bytes()
    assert b"tokensmith-quickstart" in original
    (copy / "config.json").write_bytes(original.replace(b"tokensmith-quickstart", b"attacker-audience"))
    result = tokensmith("serve", str(copy), "--port", str(free_port()), env=secrets_env())
    assert result.returncode == 1
    assert "config.json" in result.stderr


def test_an_address_in_use_exits_2(bundle: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = tokensmith("serve", str(bundle), "--port", str(port), env=secrets_env())
    assert result.returncode == 2
    assert "address already in use" in result.stderr
    # one clear line, and no "bundle ... on http://..." banner before it
    assert result.stderr.splitlines() == [
        f"tokensmith serve: cannot listen on 127.0.0.1:{port}: address already in use"
    ]
    assert result.stdout == ""


def test_the_banner_comes_once_the_socket_listens(bundle: Path) -> None:
    # --port 0: the banner names the port the kernel chose, which already takes connections
    with subprocess.Popen(
        [sys.executable, "-m", "tokensmith", "serve", str(bundle), "--port", "0",
         "--drain-seconds", "0"],
        env=secrets_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    ) as process:
        try:
            assert process.stderr is not None
            banner = process.stderr.readline()
            if banner.startswith("tokensmith serve: warning: serving an unsigned bundle"):
                banner = process.stderr.readline()  # no --trust here: the banner comes next
            found = re.fullmatch(
                r"tokensmith serve: bundle [0-9a-f]{12} on http://127\.0\.0\.1:(\d+)"
                r" \(1 worker\)\n",
                banner,
            )
            assert found, banner
            port = int(found.group(1))
            assert port != 0
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                # accepted at once, answered once the app has started
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
