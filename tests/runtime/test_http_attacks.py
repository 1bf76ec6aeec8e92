"""Attack catalogue rows (groups A, B, D of docs/threat-model.md) sent over real HTTP.

Each attack checks the status, the RFC error code, that no token was issued, and that the error
description leaks nothing (no marker from the token, no provider name, key id or URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import logging
import threading
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..support.http_server import ISSUER_HS, MARKER, RunningServer, World, form

pytestmark = pytest.mark.slow

LEAKS = (MARKER, "quickstart", "rsa-1", "es-1", "login.example.com", "rsa.example.com", "sbk_test")


class Recorder:
    """A local HTTP server that counts every request it receives (it must receive none)."""

    def __init__(self) -> None:
        recorder = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"keys": []}')

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: str | bytes, payload: str | bytes, key: bytes | None, sig: str | None = None) -> str:
    h = b64(header.encode() if isinstance(header, str) else header)
    p = b64(payload.encode() if isinstance(payload, str) else payload)
    if sig is None:
        assert key is not None
        sig = b64(hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest())
    return f"{h}.{p}.{sig}"


def refused(client: httpx.Client, token: str, error: str = "invalid_request", **kw: str) -> dict[str, Any]:
    response = client.post("/tokens", data=form(token, **kw))
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert "access_token" not in body
    assert response.headers["cache-control"] == "no-store"
    for leak in LEAKS:
        assert leak not in response.text
    return body


def claims_json(world: World, **overrides: Any) -> str:
    return json.dumps(world.claims(sub=MARKER, **overrides))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_a01_alg_none(client: httpx.Client, world: World, alg: str) -> None:
    header = json.dumps({"alg": alg, "typ": "JWT"})
    refused(client, raw_token(header, claims_json(world), None, sig=""))
    genuine = world.hs_token().rsplit(".", 1)[1]
    refused(client, raw_token(header, claims_json(world), None, sig=genuine))


@pytest.mark.parametrize("alg", [None, "hs256", ["HS256"], 123])
def test_a02_alg_missing_or_mistyped(client: httpx.Client, world: World, alg: Any) -> None:
    header = {"typ": "JWT"} if alg is None else {"alg": alg}
    key = world.idp_secret.encode()
    refused(client, raw_token(json.dumps(header), claims_json(world), key))


def test_a03_alg_outside_the_allow_list(client: httpx.Client, world: World) -> None:
    claims = world.claims(iss="https://rsa.example.com/", aud="rsa-aud", sub=MARKER)
    refused(client, jwt.encode(claims, world.es_key, "ES256", {"kid": "rsa-1"}))


def test_a04_rs256_to_hs256_key_confusion(client: httpx.Client, world: World) -> None:
    public = world.rsa_key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    payload = json.dumps(world.claims(iss="https://rsa.example.com/", aud="rsa-aud", sub=MARKER))
    for key in (pem, pem.replace(b"\n", b"\r\n"), der):
        header = json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"})
        refused(client, raw_token(header, payload, key))


def test_a06_embedded_jwk_is_not_used(client: httpx.Client, world: World) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    claims = world.claims(iss="https://rsa.example.com/", aud="rsa-aud", sub=MARKER)
    refused(client, jwt.encode(claims, attacker, "RS256", {"kid": "rsa-1", "jwk": jwk}))


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_a07_jku_and_x5u_are_never_fetched(client: httpx.Client, world: World, member: str) -> None:
    with Recorder() as recorder:
        claims = world.claims(iss="https://rsa.example.com/", aud="rsa-aud", sub=MARKER)
        attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        headers = {"kid": "rsa-1", member: recorder.url + "/jwks.json"}
        refused(client, jwt.encode(claims, attacker, "RS256", headers))
        refused(client, world.hs_token(headers={member: recorder.url + "/jwks.json"}))
    assert recorder.requests == 0


def test_a08_kid_injection(client: httpx.Client, world: World) -> None:
    for kid in ("../../../../dev/null", "x' UNION SELECT '1';--", "|sleep 10", "k" * 100_000):
        header = json.dumps({"alg": "HS256", "kid": kid})
        response = client.post("/tokens", data=form(raw_token(header, claims_json(world), b"")))
        assert response.status_code in (400, 413)
        assert response.json()["error"] == "invalid_request"
    odd_kids: tuple[object, ...] = ({"$ne": 1}, 123, None)
    for odd in odd_kids:
        header = json.dumps({"alg": "HS256", "kid": odd})
        refused(client, raw_token(header, claims_json(world), world.idp_secret.encode()))


def test_a09_psychic_es256_signature(client: httpx.Client, world: World) -> None:
    token = world.es_token(sub=MARKER)
    head, payload, _ = token.split(".")
    refused(client, f"{head}.{payload}.{'A' * 86}")


def test_a13_stripped_truncated_and_flipped_signatures(client: httpx.Client, world: World) -> None:
    token = world.hs_token(sub=MARKER)
    head, payload, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for bad in (f"{head}.{payload}.", f"{head}.{payload}.{sig[:20]}", f"{head}.{payload}.{flipped}"):
        refused(client, bad)


def test_a14_crit_is_refused(client: httpx.Client, world: World) -> None:
    for crit in (["exp2"], [], ["alg"]):
        refused(client, world.hs_token(headers={"crit": crit, "exp2": 1}))


def test_a16_duplicate_header_members(client: httpx.Client, world: World) -> None:
    header = '{"alg":"none","alg":"HS256"}'
    refused(client, raw_token(header, claims_json(world), world.idp_secret.encode()))


def test_a18_segment_counts(client: httpx.Client, world: World) -> None:
    token = world.hs_token(sub=MARKER)
    for bad in (token.rsplit(".", 1)[0], token + ".x", token + ".x.y", "." * 60_000):
        response = client.post("/tokens", data=form(bad))
        assert response.status_code in (400, 413)
        assert response.json()["error"] == "invalid_request"


def test_a19_non_canonical_base64(client: httpx.Client, world: World) -> None:
    token = world.hs_token(sub=MARKER)
    head, payload, sig = token.split(".")
    for bad in (f"{head}=.{payload}.{sig}", f"{head}.{payload}.{sig}==", f"{head}.\n{payload}.{sig}"):
        refused(client, bad)


def test_b01_b02_b04_b05_time_claims(client: httpx.Client, world: World) -> None:
    now = world.claims()["iat"]
    refused(client, world.hs_token(sub=MARKER, exp=now - 61))
    refused(client, world.hs_token(sub=MARKER, exp=None))
    refused(client, world.hs_token(sub=MARKER, nbf=now + 600))
    refused(client, world.hs_token(sub=MARKER, iat=now + 600))
    refused(client, world.hs_token(sub=MARKER, exp=str(now + 600)))
    refused(client, world.hs_token(sub=MARKER, exp=True))


def test_b08_b09_issuer_look_alikes(client: httpx.Client, world: World) -> None:
    for iss in (ISSUER_HS.upper(), ISSUER_HS.rstrip("/"), ISSUER_HS + "\u200b"):
        refused(client, world.hs_token(sub=MARKER, iss=iss))
    for odd in ([ISSUER_HS], 5):
        payload = claims_json(world, iss=odd)
        refused(client, raw_token('{"alg":"HS256"}', payload, world.idp_secret.encode()))


def test_b10_b12_wrong_audience(client: httpx.Client, world: World) -> None:
    for aud in ("other-svc", 123, [123], {"x": 1}, "", [], "TOKENSMITH-TESTS"):
        refused(client, world.hs_token(sub=MARKER, aud=aud))


def test_b16_duplicate_claims(client: httpx.Client, world: World) -> None:
    payload = claims_json(world)[:-1] + ', "sub": "admin"}'
    refused(client, raw_token('{"alg":"HS256"}', payload, world.idp_secret.encode()))


def test_require_conditions_refuse_before_mapping(client: httpx.Client, world: World) -> None:
    claims = world.claims(iss="https://verified.example.com/", sub=MARKER, email_verified=False)
    refused(client, jwt.encode(claims, world.verified_secret, "HS256"))
    claims["email_verified"] = True
    ok = client.post("/tokens", data=form(jwt.encode(claims, world.verified_secret, "HS256")))
    assert ok.status_code == 200


def test_d10_refusals_look_alike(client: httpx.Client, world: World) -> None:
    no_match = world.hs_token(sub=MARKER, iss="https://unknown.example.com/")
    bad_sig = jwt.encode(world.claims(sub=MARKER), "x" * 32 + MARKER, "HS256")
    unknown_kid = world.rs_token(sub=MARKER).replace(
        world.rs_token(sub=MARKER).split(".")[0],
        b64(json.dumps({"alg": "RS256", "kid": "nope" + MARKER}).encode()),
    )
    expired = world.hs_token(sub=MARKER, exp=world.claims()["iat"] - 3600)
    bodies = [refused(client, t) for t in (no_match, bad_sig, unknown_kid, expired)]
    assert {b["error"] for b in bodies} == {"invalid_request"}
    # no match, bad signature and unknown kid cannot be told apart by the caller
    assert bodies[1] == bodies[2]


def test_d09_no_500_for_a_broken_exchange(
    server: RunningServer, world: World, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tokensmith.runtime import startup

    def explode(*args: Any) -> Any:
        raise RuntimeError("secret detail " + MARKER)

    monkeypatch.setattr(startup, "exchange", explode)
    with caplog.at_level(logging.ERROR, "tokensmith.errors"):
        response = httpx.post(server.url + "/tokens", data=form(world.hs_token()))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert MARKER not in response.text
    assert "RuntimeError" in caplog.text and MARKER not in caplog.text


def test_d13_access_log_never_holds_tokens_or_claim_values(
    server: RunningServer, world: World
) -> None:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("tokensmith.access")
    handler = Capture()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        good = world.hs_token(sub="user-" + MARKER, email=MARKER + "@example.com")
        bad = world.hs_token(sub=MARKER, exp=world.claims()["iat"] - 3600)
        headers = {"authorization": "Bearer " + MARKER}
        with httpx.Client(base_url=server.url) as c:
            assert c.post("/tokens", data=form(good), headers=headers).status_code == 200
            assert c.post("/tokens", data=form(bad), headers=headers).status_code == 400
            assert c.get("/tokens", params={"subject_token": good}).status_code == 405
            assert c.get("/x/" + MARKER).status_code == 404
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert len(lines) == 4
    text = "\n".join(lines)
    assert MARKER not in text and good not in text and "eyJ" not in text
    records = [json.loads(line) for line in lines]
    issued, expired, get, other = records
    assert issued["outcome"] == "issued" and issued["status"] == 200
    assert issued["identity_provider"] == "quickstart" and issued["service"] == "my-service"
    assert expired["status"] == 400 and expired["outcome"] == "expired"
    assert get["status"] == 405 and other["path"] == "other"
    for record in records:
        assert set(record) == {
            "time", "request_id", "method", "path", "status", "outcome", "identity_provider",
            "service", "latency_ms", "revision",
        }
        assert len(record["revision"]) == 64 and record["latency_ms"] >= 0


def test_a05_alg_that_does_not_fit_the_key(client: httpx.Client, world: World) -> None:
    claims = world.claims(iss="https://es.example.com/", aud="es-aud", sub=MARKER)
    refused(client, jwt.encode(claims, world.rsa_key, "RS256", {"kid": "es-1"}))
    refused(client, jwt.encode(claims, "x" * 32, "HS256", {"kid": "es-1"}))


def test_a10_der_encoded_es256_signature(client: httpx.Client, world: World) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    token = world.es_token(sub=MARKER)
    head, payload, _ = token.split(".")
    der = world.es_key.sign(f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    refused(client, f"{head}.{payload}.{b64(der)}")
    refused(client, f"{head}.{payload}.{b64(bytes(63))}")


def test_a15_unencoded_payload(client: httpx.Client, world: World) -> None:
    refused(client, world.hs_token(headers={"b64": False, "crit": ["b64"]}, sub=MARKER))
    refused(client, world.hs_token(headers={"b64": False}, sub=MARKER))


def test_a17_other_serialisations(client: httpx.Client, world: World) -> None:
    token = world.hs_token(sub=MARKER)
    head, payload, sig = token.split(".")
    refused(client, f"{head}.{payload}.{sig}.{sig}.{sig}")
    general = json.dumps({"payload": payload, "signatures": [{"protected": head, "signature": sig}]})
    refused(client, general)
    nested = world.hs_token(headers={"cty": "JWT"}, sub=MARKER)
    refused(client, nested)


def test_a20_header_not_a_utf8_json_object(client: httpx.Client, world: World) -> None:
    payload = claims_json(world)
    key = world.idp_secret.encode()
    for header in (b"[]", b'"foo"', b"null", b'\xef\xbb\xbf{"alg":"HS256"}',
                   '{"alg":"HS256"}'.encode("utf-16"), b'{"alg":"HS256","x":"\xff"}'):
        refused(client, raw_token(header, payload, key))


def test_a21_an_issued_token_is_not_exchanged_again(client: httpx.Client, world: World) -> None:
    issued = client.post("/tokens", data=form(world.hs_token())).json()["access_token"]
    refused(client, issued)


def test_b03_issued_lifetime_is_bounded(client: httpx.Client, world: World) -> None:
    now = world.claims()["iat"]
    response = client.post("/tokens", data=form(world.hs_token(exp=10**12)))
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], world.signing_secret, ["HS256"],
                        audience="my-service")
    assert claims["exp"] <= now + 900 + 5
    short = client.post("/tokens", data=form(world.hs_token(exp=now + 120)))
    issued = jwt.decode(short.json()["access_token"], world.signing_secret, ["HS256"],
                        audience="my-service")
    assert issued["exp"] <= now + 120


def test_b07_missing_issuer(client: httpx.Client, world: World) -> None:
    refused(client, world.hs_token(iss=None, sub=MARKER))


def test_b11_audience_list_naming_the_provider_is_accepted(
    client: httpx.Client, world: World
) -> None:
    token = world.hs_token(aud=["tokensmith-tests", "another-api"])
    assert client.post("/tokens", data=form(token)).status_code == 200


def test_b15_subject_empty_or_not_a_string(client: httpx.Client, world: World) -> None:
    refused(client, world.hs_token(sub=""))
    refused(client, raw_token('{"alg":"HS256"}', claims_json(world, email=MARKER)
                              .replace(f'"sub": "{MARKER}"', '"sub": 123'),
                              world.idp_secret.encode()))


def test_b17_deep_nesting(client: httpx.Client, world: World) -> None:
    deep = '{"alg":"HS256","x":' + "[" * 2000 + "]" * 2000 + "}"
    refused(client, raw_token(deep, claims_json(world), world.idp_secret.encode()))
    payload = claims_json(world)[:-1] + ', "deep": ' + "[" * 2000 + "]" * 2000 + "}"
    refused(client, raw_token('{"alg":"HS256"}', payload, world.idp_secret.encode()))


def test_b20_registered_claims_come_from_the_config(client: httpx.Client, world: World) -> None:
    token = world.hs_token(jti="attacker", role="admin")
    response = client.post("/tokens", data=form(token))
    claims = jwt.decode(response.json()["access_token"], world.signing_secret, ["HS256"],
                        audience="my-service", issuer="https://tokens.example.com/")
    assert claims["jti"] != "attacker"
    assert claims["act"] == {"sub": "user-1", "email": "ada@example.com", "role": "admin"}
