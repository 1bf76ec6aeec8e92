"""POST /tokens over real HTTP: the happy paths, the body rules and the error shapes."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from ..support.http_server import MARKER, RunningServer, World, form

pytestmark = pytest.mark.slow

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def assert_refused(
    response: httpx.Response, status: int, error: str, code: str
) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert body["code"] == code
    assert set(body) == {"error", "error_description", "code"}
    assert "access_token" not in response.text
    return dict(body)


def test_state_backed_client_form_is_exchanged_and_verifies_with_pyjwt(
    client: httpx.Client, world: World
) -> None:
    audience = "https://tokens.statebacked.dev/org_x/my-service"
    response = client.post("/tokens", data=form(world.hs_token(), audience=audience))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert len(response.headers["x-tokensmith-revision"]) == 64
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "HS256", "kid": "sbk_test", "typ": "JWT"}
    claims = jwt.decode(
        body["access_token"], world.signing_secret, ["HS256"], audience="my-service",
        issuer="https://tokens.example.com/",
    )
    assert claims["act"] == {"sub": "user-1", "email": "ada@example.com"}
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "act"}


def test_json_body_is_exchanged(client: httpx.Client, world: World) -> None:
    response = client.post("/tokens", json=form(world.hs_token()))
    assert response.status_code == 200, response.text


def test_every_subject_token_type_is_accepted(client: httpx.Client, world: World) -> None:
    for kind in ("jwt", "id_token", "access_token"):
        fields = form(world.hs_token(), subject_token_type=f"urn:ietf:params:oauth:token-type:{kind}")
        assert client.post("/tokens", data=fields).status_code == 200


def test_rs256_in_and_es256_out_verify_with_the_published_jwks(
    client: httpx.Client, world: World
) -> None:
    response = client.post("/tokens", data=form(world.rs_token(), audience="es-service"))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    jwks = client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == ["es_sign"]
    assert all("d" not in k for k in jwks["keys"])
    key = jwt.PyJWK.from_dict(jwks["keys"][0])
    claims = jwt.decode(token, key, ["ES256"], audience="es-service")
    assert claims["act"]["sub"] == "user-1"


def test_es256_in_is_exchanged(client: httpx.Client, world: World) -> None:
    response = client.post("/tokens", data=form(world.es_token()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("content_type", "code"),
    [
        (None, "no_content_type"),
        ("text/plain", "unsupported_media_type"),
        ("multipart/form-data; boundary=x", "unsupported_media_type"),
        ("application/x-www-form-urlencoded; charset=utf-16", "unsupported_charset"),
        ("application/jwt", "unsupported_media_type"),
    ],
)
def test_other_content_types_are_415(
    client: httpx.Client, world: World, content_type: str | None, code: str
) -> None:
    body = httpx.QueryParams(form(world.hs_token())).__str__().encode()
    headers = {} if content_type is None else {"content-type": content_type}
    request = client.build_request("POST", "/tokens", content=body, headers=headers)
    assert request.headers.get("content-type") == content_type
    assert_refused(client.send(request), 415, "invalid_request", code)


def test_form_with_utf8_charset_is_accepted(client: httpx.Client, world: World) -> None:
    body = str(httpx.QueryParams(form(world.hs_token())))
    headers = {"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}
    assert client.post("/tokens", content=body, headers=headers).status_code == 200


def test_body_over_64_kib_is_413_with_content_length(client: httpx.Client) -> None:
    body = b"a=" + b"x" * (64 * 1024)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/tokens", content=body, headers=headers)
    assert_refused(response, 413, "invalid_request", "body_too_large")


def test_chunked_body_over_64_kib_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a="
        for _ in range(100):
            yield b"x" * 1024

    headers = {"content-type": "application/x-www-form-urlencoded"}
    request = client.build_request("POST", "/tokens", content=chunks(), headers=headers)
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_refused(client.send(request), 413, "invalid_request", "body_too_large")


def test_ten_megabyte_field_is_413_quickly(client: httpx.Client) -> None:
    body = b"subject_token=" + b"a" * (10 * 1024 * 1024)
    started = time.monotonic()
    response = client.post("/tokens", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert_refused(response, 413, "invalid_request", "body_too_large")
    assert time.monotonic() - started < 5


def test_too_many_fields_are_refused(client: httpx.Client) -> None:
    body = "&".join(f"f{i}=1" for i in range(5000))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/tokens", content=body, headers=headers)
    assert_refused(response, 400, "invalid_request", "too_many_parameters")


def test_huge_validly_signed_token_is_refused_fast(client: httpx.Client, world: World) -> None:
    token = world.hs_token(padding="p" * 40_000)
    started = time.monotonic()
    response = client.post("/tokens", data=form(token))
    assert_refused(response, 400, "invalid_request", "token_too_long")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("body", "status", "error", "code"),
    [
        ("grant_type={g}&subject_token={t}&subject_token={t}&audience=my-service", 400, "invalid_request", "repeated_parameter"),
        ("grant_type={g}&grant_type={g}&subject_token={t}&audience=my-service", 400, "invalid_request", "repeated_parameter"),
        ("subject_token={t}&audience=my-service", 400, "invalid_request", "missing_grant_type"),
        ("grant_type=password&subject_token={t}&audience=my-service", 400, "unsupported_grant_type", "unsupported_grant_type"),
        ("grant_type=client_credentials&audience=my-service", 400, "unsupported_grant_type", "unsupported_grant_type"),
        ("grant_type={g}&audience=my-service", 400, "invalid_request", "missing_subject_token"),
        ("grant_type={g}&subject_token=&audience=my-service", 400, "invalid_request", "missing_subject_token"),
        ("grant_type={g}&subject_token={t}", 400, "invalid_request", "missing_audience"),
        ("grant_type={g}&subject_token={t}&audience=my-service&subject_token_type=urn:ietf:params:oauth:token-type:saml2", 400, "invalid_request", "bad_subject_token_type"),
        ("grant_type={g}&subject_token={t}&audience=my-service&requested_token_type=urn:ietf:params:oauth:token-type:refresh_token", 400, "invalid_request", "bad_requested_token_type"),
        ("grant_type={g}&subject_token={t}&audience=my-service&actor_token={t}", 400, "invalid_request", "unsupported_parameter"),
        ("grant_type={g}&subject_token={t}&audience=no-such-service", 400, "invalid_target", "unknown_service"),
        ("grant_type={g}&subject_token={t}&audience=https://tokens.statebacked.dev/org/", 400, "invalid_target", "bad_audience"),
        ("grant_type={g}&subject_token={t}&audience=ftp://x/my-service", 400, "invalid_target", "bad_audience"),
        ("grant_type={g}&subject_token={t}&audience=only-rsa", 400, "invalid_target", "idp_not_allowed"),
        ("grant_type={g}&subject_token={t}&audience=my-service&resource=https://x/", 400, "invalid_target", "resource"),
        ("grant_type={g}&subject_token={t}&audience=my-service;x=1", 400, "invalid_target", "bad_audience"),
        ("grant_type={g}&&subject_token={t}&audience=my-service", 400, "invalid_request", "bad_form"),
        ("grant_type={g}&subject_token={t}&audience=my-service&novalue", 400, "invalid_request", "bad_form"),
        ("grant_type={g}&subject_token=%ff%fe&audience=my-service", 400, "invalid_request", "bad_encoding"),
    ],
)
def test_parameter_rules(
    client: httpx.Client, world: World, body: str, status: int, error: str, code: str
) -> None:
    text = body.format(g=TOKEN_EXCHANGE, t=world.hs_token())
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert_refused(client.post("/tokens", content=text, headers=headers), status, error, code)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"x"',
        b"{",
        b'{"grant_type": 1}',
        b'{"grant_type": "' + TOKEN_EXCHANGE.encode() + b'", "grant_type": "x"}',
        b"\xef\xbb\xbf{}",
        b'{"a": {"b": [' * 50 + b"]}}" * 50,
    ],
)
def test_bad_json_bodies_are_invalid_request(client: httpx.Client, body: bytes) -> None:
    response = client.post("/tokens", content=body, headers={"content-type": "application/json"})
    assert_refused(response, 400, "invalid_request", "bad_json_body")


def test_parameters_in_the_query_string_are_refused(client: httpx.Client, world: World) -> None:
    token = world.hs_token()
    response = client.post(
        "/tokens", params={"subject_token": token}, data=form(world.hs_token())
    )
    assert_refused(response, 400, "invalid_request", "query_parameters")


def test_get_tokens_is_405_json(client: httpx.Client, world: World) -> None:
    response = client.get("/tokens", params=form(world.hs_token()))
    body = assert_refused(response, 405, "invalid_request", "method_not_allowed")
    assert "POST" in response.headers["allow"]
    assert MARKER not in json.dumps(body)


def test_oversized_header_section_is_refused_before_the_app(client: httpx.Client) -> None:
    big = client.post("/tokens", headers={"x-big": "a" * 64 * 1024}, content=b"")
    assert_refused(big, 431, "invalid_request", "headers_too_large")
    many = client.post("/tokens", headers={f"x-h{i}": "1" for i in range(200)}, content=b"")
    assert_refused(many, 431, "invalid_request", "headers_too_large")


def test_a_body_that_stalls_is_refused_after_the_deadline(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokensmith.runtime import body

    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /tokens HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            b"grant_type="
        )
        started = time.monotonic()
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"invalid_request"' in answer
    assert time.monotonic() - started < 3


def test_a_well_formed_request_id_is_echoed_and_a_bad_one_replaced(client: httpx.Client) -> None:
    good = client.get("/healthz", headers={"x-request-id": "req-12345678"})
    assert good.headers["x-request-id"] == "req-12345678"
    bad = client.get("/healthz", headers={"x-request-id": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"
    assert len(bad.headers["x-request-id"]) == 24


def test_concurrent_exchanges_each_get_their_own_answer(
    server: RunningServer, world: World
) -> None:
    """Exchanges that arrive together run in one batch (`runtime.batching`): 96 concurrent
    requests, a third of them refused, each get the answer for their own token, never another's.
    """
    import asyncio

    def request(i: int) -> dict[str, str]:
        if i % 3 == 2:  # expired: refused in the middle of a batch of good ones
            return form(world.hs_token(sub=f"user-{i}", exp=int(time.time()) - 3600))
        return form(world.hs_token(sub=f"user-{i}", email=f"u{i}@example.com"))

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=96)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
            return list(await asyncio.gather(
                *(client.post("/tokens", data=request(i)) for i in range(96))
            ))

    for i, response in enumerate(asyncio.run(main())):
        if i % 3 == 2:
            refusal = assert_refused(response, 400, "invalid_request", "expired")
            assert "expired" in refusal["error_description"]
            continue
        assert response.status_code == 200, response.text
        claims = jwt.decode(
            response.json()["access_token"], world.signing_secret, ["HS256"],
            audience="my-service", issuer="https://tokens.example.com/",
        )
        assert claims["act"] == {"sub": f"user-{i}", "email": f"u{i}@example.com"}


def test_signature_probes_get_one_and_the_same_body(client: httpx.Client, world: World) -> None:
    """An unknown key id, an algorithm outside the provider's list and a bad signature must not
    be told apart by the caller: the same description and the same `code` (the logs keep the
    precise reason), so nobody can probe which key ids or algorithms a provider accepts."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = world.claims(iss="https://rsa.example.com/", aud="rsa-aud")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    probes = {
        "unknown kid": jwt.encode(claims, world.rsa_key, "RS256", {"kid": "rsa-2"}),
        "algorithm not allowed": jwt.encode(claims, world.idp_secret, "HS256", {"kid": "rsa-1"}),
        "bad signature": jwt.encode(claims, stranger, "RS256", {"kid": "rsa-1"}),
    }
    bodies = set()
    for probe, token in probes.items():
        response = client.post("/tokens", data=form(token, audience="only-rsa"))
        assert response.status_code == 400, probe
        assert_refused(response, 400, "invalid_request", "bad_signature")
        bodies.add(response.content)
    assert bodies == {
        b'{"error":"invalid_request","error_description":"token signature is not valid",'
        b'"code":"bad_signature"}'
    }
