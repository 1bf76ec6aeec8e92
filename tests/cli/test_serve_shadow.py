"""`tokensmith serve BUNDLE --shadow CANDIDATE` as an operator runs it, on compiled bundles.

For each change a reviewer might make (a tightened `require`, a removed mapping key, a new
identity provider, a changed audience) the live and candidate configs are compiled with the
real CLI and served; the same requests go to the shadowed server and to one without a shadow.
The counts by result must be exactly what the requests imply, every answer the same as without
a shadow (but `jti`, `iat`, `exp` and the date), and no claim value or token in the log.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support.http_server import serving

from .test_serve_cli import MARKER, tokensmith

pytestmark = pytest.mark.slow

LIVE = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k:
    algorithm: HS256
    secret: {env: SHADOW_SIGNING_KEY}
identity_providers:
  login:
    issuer: https://login.example.com/
    audience: app
    secret: {env: SHADOW_LOGIN_SECRET}
    algorithms: [HS256]
    mapping:
      sub.$: $.sub
      email.$: $.email
token_providers:
  my-service:
    signing_key: k
    expires_in: 15m
    mapping:
      sub.$: $.sub
      email.$: $.email
"""

PARTNER = """\
  partner:
    issuer: https://partner.example.com/
    audience: app
    secret: {env: SHADOW_PARTNER_SECRET}
    algorithms: [HS256]
    mapping:
      sub.$: $.sub
      email.$: $.email
"""

CANDIDATES = {
    "tightened_require": LIVE.replace(
        "    algorithms: [HS256]\n",
        "    algorithms: [HS256]\n    require: {$.email_verified: true}\n"),
    # the token provider's mapping loses `email` (the identity provider's keeps it)
    "removed_mapping_key": LIVE.split("token_providers:\n")[0] + "token_providers:\n"
    + LIVE.split("token_providers:\n")[1].replace("      email.$: $.email\n", ""),
    "new_identity_provider": LIVE.replace("token_providers:\n", PARTNER + "token_providers:\n"),
    "changed_audience": LIVE.replace("    audience: app\n", "    audience: app-v2\n"),
}

#: What each request is, and what each candidate must count it as.
EXPECTED = {
    "verified":    {"tightened_require": "same", "removed_mapping_key": "claims_changed",
                    "new_identity_provider": "same", "changed_audience": "would_break"},
    "unverified":  {"tightened_require": "would_break", "removed_mapping_key": "claims_changed",
                    "new_identity_provider": "same", "changed_audience": "would_break"},
    "no_email":    {"tightened_require": "same", "removed_mapping_key": "same",
                    "new_identity_provider": "same", "changed_audience": "would_break"},
    "partner":     {"tightened_require": "same", "removed_mapping_key": "same",
                    "new_identity_provider": "would_open", "changed_audience": "same"},
    "aud_v2":      {"tightened_require": "same", "removed_mapping_key": "same",
                    "new_identity_provider": "same", "changed_audience": "would_open"},
    "expired":     dict.fromkeys(CANDIDATES, "same"),
    "unknown_svc": dict.fromkeys(CANDIDATES, "same"),
}


def compile_config(tmp: Path, name: str, text: str) -> Path:
    (tmp / f"{name}.yaml").write_text(text)
    out = tmp / name
    result = tokensmith("compile", str(tmp / f"{name}.yaml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("shadow")
    assert CANDIDATES["removed_mapping_key"].count("email.$") == 1
    return {name: compile_config(tmp, name, text)
            for name, text in {"live": LIVE, **CANDIDATES}.items()}


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return {
        **os.environ,
        "SHADOW_SIGNING_KEY": secrets.token_urlsafe(32),
        "SHADOW_LOGIN_SECRET": secrets.token_urlsafe(32),
        "SHADOW_PARTNER_SECRET": secrets.token_urlsafe(32),
    }


@pytest.fixture(scope="module")
def requests(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    now = int(time.time())
    login = {"iss": "https://login.example.com/", "aud": "app", "sub": f"user-{MARKER}",
             "email": f"{MARKER}@example.com", "iat": now, "exp": now + 3600}

    def token(secret: str, **claims: Any) -> str:
        return jwt.encode({k: v for k, v in {**login, **claims}.items() if v is not None},
                          env[secret], "HS256")

    tokens = {
        "verified": (token("SHADOW_LOGIN_SECRET", email_verified=True), "my-service"),
        "unverified": (token("SHADOW_LOGIN_SECRET"), "my-service"),
        "no_email": (token("SHADOW_LOGIN_SECRET", email=None, email_verified=True), "my-service"),
        "partner": (token("SHADOW_PARTNER_SECRET", iss="https://partner.example.com/"),
                    "my-service"),
        "aud_v2": (token("SHADOW_LOGIN_SECRET", aud="app-v2"), "my-service"),
        "expired": (token("SHADOW_LOGIN_SECRET", exp=now - 3600), "my-service"),
        "unknown_svc": (token("SHADOW_LOGIN_SECRET"), f"svc-{MARKER}"),
    }
    return {
        name: {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
               "subject_token": subject, "audience": service}
        for name, (subject, service) in tokens.items()
    }


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    body = response.json()
    if "access_token" in body:
        token = body.pop("access_token")
        body["header"] = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        body["claims"] = {k: v for k, v in claims.items() if k not in ("jti", "iat", "exp")}
    return response.status_code, headers, body


def send_all(url: str, requests: Mapping[str, dict[str, str]]) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return {name: comparable(client.post("/tokens", data=body,
                                             headers={"x-request-id": f"req-{name}"}))
                for name, body in requests.items()}


def shadow_counts(url: str, total: int) -> dict[str, float]:
    """`tokensmith_shadow_decisions_total` by result, once `total` decisions are counted."""
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(url + "/metrics").text
        counts = {m[1]: float(m[2]) for m in re.finditer(
            r'^tokensmith_shadow_decisions_total\{result="(\w+)"\} (\S+)$', text, re.M)}
        if sum(counts.values()) >= total or time.monotonic() > deadline:
            return {k: v for k, v in counts.items() if v}
        time.sleep(0.05)


@pytest.fixture(scope="module")
def plain(bundles: dict[str, Path], env: dict[str, str],
          requests: dict[str, dict[str, str]]) -> dict[str, Any]:
    with serving(bundles["live"], env) as (url, _):
        return send_all(url, requests)


@pytest.mark.parametrize("change", sorted(CANDIDATES))
def test_counts_are_what_the_requests_imply(
    change: str, bundles: dict[str, Path], env: dict[str, str],
    requests: dict[str, dict[str, str]], plain: dict[str, Any],
) -> None:
    candidate = bundles[change]
    with serving(bundles["live"], env, "--shadow", str(candidate)) as (url, log_path):
        answers = send_all(url, requests)
        counts = shadow_counts(url, len(requests))
        ready = httpx.get(url + "/readyz").json()
        metrics = httpx.get(url + "/metrics").text
    expected: dict[str, float] = {}
    for name in requests:
        result = EXPECTED[name][change]
        expected[result] = expected.get(result, 0) + 1
    assert counts == expected
    assert answers == plain  # the live answers, as if there were no candidate
    revision = json.loads((candidate / "manifest.json").read_text())["revision"]
    assert ready["status"] == "ready" and ready["shadow"]["revision"] == revision
    assert f"svc-{MARKER}" not in metrics  # a service no bundle knows is never a label
    log = log_path.read_text()
    assert MARKER not in log
    assert all(body["subject_token"] not in log for body in requests.values())
    lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"shadow"')]
    divergent = {n for n in requests if EXPECTED[n][change] in
                 ("would_break", "would_open", "claims_changed")}
    assert {line["request_id"] for line in lines} == {f"req-{n}" for n in divergent}
    for line in lines:
        assert line["shadow"] == EXPECTED[line["request_id"][4:]][change]
        assert line["claims"] == (["act.email"] if line["shadow"] == "claims_changed" else [])


def test_a_secret_only_the_candidate_needs_refuses_to_start(
    bundles: dict[str, Path], env: dict[str, str]
) -> None:
    without = {k: v for k, v in env.items() if k != "SHADOW_PARTNER_SECRET"}
    result = tokensmith("serve", str(bundles["live"]), "--port", "9",
                        "--shadow", str(bundles["new_identity_provider"]), env=without)
    assert result.returncode == 1
    assert "shadow candidate" in result.stderr and "SHADOW_PARTNER_SECRET" in result.stderr
    assert env["SHADOW_LOGIN_SECRET"] not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--shadow-sample", "0.5"], ["--shadow", "CANDIDATE", "--shadow-sample", "1.5"],
     ["--shadow", "CANDIDATE", "--shadow-sample", "nan"], ["--shadow", "NOWHERE"]],
    ids=["sample-without-shadow", "sample-over-one", "sample-nan", "candidate-missing"],
)
def test_usage_errors_exit_2(bundles: dict[str, Path], env: dict[str, str],
                             args: list[str]) -> None:
    args = [str(bundles["tightened_require"]) if a == "CANDIDATE" else a for a in args]
    args = [str(bundles["live"].parent / "nowhere") if a == "NOWHERE" else a for a in args]
    result = tokensmith("serve", str(bundles["live"]), "--port", "9", *args, env=env)
    assert result.returncode == 2, result.stderr


def test_every_worker_loads_the_candidate(
    bundles: dict[str, Path], env: dict[str, str], requests: dict[str, dict[str, str]]
) -> None:
    candidate = bundles["tightened_require"]
    revision = json.loads((candidate / "manifest.json").read_text())["revision"]
    args = ("--workers", "2", "--shadow", str(candidate), "--shadow-sample", "0.5")
    with serving(bundles["live"], env, *args) as (url, _):
        for _ in range(6):  # the connections land on either worker
            with httpx.Client(base_url=url) as client:
                shadow = client.get("/readyz").json()["shadow"]
                assert shadow["revision"] == revision and shadow["sample"] == 0.5
                assert client.post("/tokens", data=requests["verified"]).status_code == 200


def test_the_candidate_is_judged_under_the_live_trust(
    bundles: dict[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    """With `--trust`, an unsigned candidate refuses start-up, as an unsigned live bundle
    would; signed by a trusted key, it is served beside the signed live bundle."""
    import shutil

    key = tmp_path / "release"
    assert tokensmith("keygen", "--out", str(key)).returncode == 0
    live, candidate = tmp_path / "live", tmp_path / "candidate"
    shutil.copytree(bundles["live"], live)
    shutil.copytree(bundles["tightened_require"], candidate)
    assert tokensmith("sign", str(live), "--key", f"{key}.key").returncode == 0
    trust = ("--trust", f"{key}.pub")
    refused = tokensmith("serve", str(live), "--port", "9", *trust, "--shadow", str(candidate),
                         env=env)
    assert refused.returncode == 1, refused.stderr
    assert "shadow candidate" in refused.stderr
    assert tokensmith("sign", str(candidate), "--key", f"{key}.key").returncode == 0
    with serving(live, env, *trust, "--shadow", str(candidate)) as (url, _):
        assert httpx.get(url + "/readyz").json()["shadow"]["revision"]
