"""Groups A and B of the attack catalogue (`docs/threat-model.md`) sent through `exchange()`.

Each test names its row. Every refusal is checked for the exact error class and code, the
`reason`, and a description that is one of the fixed sentences echoing nothing of the request
(`refused` in `tests/support/exchange_world.py`). A07's "no outbound request" is also checked:
the socket layer is replaced by a tripwire for every test of this module.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tokensmith.runtime.errors import InvalidRequest

from ..support.exchange_world import (
    AUD_A_SECRET,
    AUTH0,
    AUTH0_AUD,
    DROP,
    EC_KEY,
    ED_ISS,
    GITHUB,
    GITHUB_KEY,
    MIXED_ISS,
    NOW,
    RSA_KEY,
    SUPABASE,
    auth0_claims,
    b64,
    claims_for,
    eddsa,
    hs256,
    public_jwk,
    refused,
    resign_hs256,
    resign_rs256,
    rs256,
    run,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A07: the exchange never opens a connection or resolves a name, whatever the token says."""
    attempts: list[Any] = []

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError("the exchange tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", tripwire)
    monkeypatch.setattr(socket.socket, "connect_ex", tripwire)
    monkeypatch.setattr(socket, "create_connection", tripwire)
    monkeypatch.setattr(socket, "getaddrinfo", tripwire)
    yield attempts
    assert attempts == []


def header_text(**members: Any) -> str:
    return json.dumps(members, separators=(",", ":"))


PAYLOAD = json.dumps(auth0_claims())
SUPA_PAYLOAD = json.dumps(claims_for(SUPABASE, "authenticated"))
GOOD = rs256(auth0_claims())
GOOD_SIGNATURE = GOOD.split(".")[2]


# ---- A: forgery ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_a01_alg_none(alg: str) -> None:
    head = b64(header_text(alg=alg, typ="JWT"))
    refused(f"{head}.{b64(PAYLOAD)}.", ("alg_unsupported", "missing_signature"))
    refused(f"{head}.{b64(PAYLOAD)}.{GOOD_SIGNATURE}", "alg_unsupported")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ('{"typ":"JWT","kid":"rsa1"}', "alg_missing"),
        ('{"alg":"rs256","kid":"rsa1"}', "alg_unsupported"),
        ('{"alg":["RS256"],"kid":"rsa1"}', "alg_missing"),
        ('{"alg":123,"kid":"rsa1"}', "alg_missing"),
        ('{"alg":null,"kid":"rsa1"}', "alg_missing"),
    ],
)
def test_a02_alg_missing_wrong_case_or_type(header: str, reason: str) -> None:
    refused(resign_rs256(header, PAYLOAD), reason)


def test_a03_algorithm_outside_the_allow_list() -> None:
    # a valid ES256 signature, but auth0 allows RS256 only: refused before any key is tried
    token = jwt.encode(auth0_claims(), EC_KEY, algorithm="ES256", headers={"kid": "rsa1"})
    refused(token, "alg_not_allowed")
    ps = jwt.encode(auth0_claims(), RSA_KEY, algorithm="PS256", headers={"kid": "rsa1"})
    refused(ps, "alg_not_allowed")


def _public_forms() -> dict[str, bytes]:
    public = RSA_KEY.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "pem": pem,
        "pem-crlf": pem.replace(b"\n", b"\r\n"),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk-json": json.dumps(public_jwk(RSA_KEY, "rsa1", "RS256")).encode(),
        "ssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
    }


@pytest.mark.parametrize("form", sorted(_public_forms()))
def test_a04_rs256_to_hs256_key_confusion(form: str) -> None:
    secret = _public_forms()[form]
    payload_for = {
        "auth0": PAYLOAD,
        "mixed": json.dumps(claims_for(MIXED_ISS, "svc")),
    }
    # auth0 allows RS256 only
    refused(resign_hs256('{"alg":"HS256","kid":"rsa1"}', payload_for["auth0"], secret),
            "alg_not_allowed")  # fmt: skip
    # `mixed` (wrongly) allows HS256 and RS256: its typed RSA key still never does HMAC
    refused(resign_hs256('{"alg":"HS256","kid":"mx1"}', payload_for["mixed"], secret),
            "no_matching_key")  # fmt: skip
    refused(resign_hs256('{"alg":"HS256"}', payload_for["mixed"], secret), "no_matching_key")


def test_a06_embedded_keys_are_refused() -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = public_jwk(attacker, "rsa1", "RS256")
    for extra in ({"jwk": jwk}, {"x5c": ["MIIB"]}):
        header = json.dumps({"alg": "RS256", "kid": "rsa1", **extra})
        refused(resign_rs256(header, PAYLOAD, attacker), "embedded_key_header")
    # and without a kid: never "the embedded key is the only candidate"
    refused(resign_rs256(json.dumps({"alg": "RS256", "jwk": jwk}), PAYLOAD, attacker),
            "embedded_key_header")  # fmt: skip


@pytest.mark.parametrize(
    "url",
    ["https://attacker.example/jwks.json", "http://169.254.169.254/latest/meta-data/",
     "file:///etc/passwd"],
)  # fmt: skip
@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_a07_key_urls_are_never_fetched(member: str, url: str) -> None:
    header = json.dumps({"alg": "RS256", "kid": "rsa1", member: url})
    refused(resign_rs256(header, PAYLOAD), "embedded_key_header")


@pytest.mark.parametrize(
    ("kid", "secret"),
    [
        ("../../../../../../dev/null", b""),
        ("/dev/null", b""),
        ("x' UNION SELECT '1';--", b"1"),
        ("|sleep 10", b"1"),
    ],
)
def test_a08_kid_injection_with_hmac(kid: str, secret: bytes) -> None:
    header = json.dumps({"alg": "HS256", "kid": kid})
    # supabase's secret answers any kid, so these reach the HMAC check and fail it
    refused(resign_hs256(header, SUPA_PAYLOAD, secret), "bad_signature")
    # auth0 takes RS256 only
    refused(resign_hs256(header, PAYLOAD, secret), "alg_not_allowed")


@pytest.mark.parametrize("kid", ['{"$ne":1}', "123", "null", "[]"])
def test_a08_non_string_kid(kid: str) -> None:
    refused(resign_rs256('{"alg":"RS256","kid":' + kid + "}", PAYLOAD), "bad_kid")


def test_a08_huge_kid() -> None:
    refused(resign_rs256(json.dumps({"alg": "RS256", "kid": "k" * 300}), PAYLOAD), "bad_kid")
    refused(resign_rs256(json.dumps({"alg": "RS256", "kid": "k" * 1_000_000}), PAYLOAD),
            "token_too_long")  # fmt: skip


def test_a08_unknown_kid_reads_like_a_bad_signature() -> None:
    err = refused(rs256(auth0_claims(), kid="nope"), "no_matching_key")
    assert err.description == refused(GOOD[:-4] + "AAAA", "bad_signature").description


def _flip(segment: str, index: int) -> str:
    char = segment[index]
    return segment[:index] + ("A" if char != "A" else "B") + segment[index + 1 :]


def test_a13_stripped_truncated_and_flipped_signatures() -> None:
    head, body, sig = GOOD.split(".")
    refused(f"{head}.{body}.", "missing_signature")
    refused(f"{head}.{body}.{sig[:-8]}", ("bad_signature", "bad_base64"))
    refused(f"{head}.{body}.{sig[:-4]}", ("bad_signature", "bad_base64"))
    refused(f"{head}.{body}.{_flip(sig, 10)}", "bad_signature")
    refused(f"{head}.{_flip(body, 10)}.{sig}", ("bad_signature", "bad_json", "bad_base64"))
    refused(f"{_flip(head, 5)}.{body}.{sig}", ("bad_json", "bad_base64", "alg_unsupported",
                                               "alg_missing", "bad_signature"))  # fmt: skip


@pytest.mark.parametrize(
    "crit", ['"crit":["exp2"],"exp2":1', '"crit":[]', '"crit":["alg"]', '"crit":["absent"]']
)
def test_a14_crit_is_refused(crit: str) -> None:
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1",' + crit + "}", PAYLOAD), "crit_header")


@pytest.mark.parametrize(
    "header", ['{"alg":"none","alg":"RS256","kid":"rsa1"}', '{"alg":"RS256","alg":"HS256"}']
)
def test_a16_duplicate_header_members(header: str) -> None:
    refused(resign_rs256(header, PAYLOAD), "bad_json")


def test_a17_other_serialisations() -> None:
    head, body, sig = GOOD.split(".")
    refused(f"{head}.{body}.{sig}.AAAA.AAAA", "jwe_not_supported")
    general = json.dumps({"payload": body, "signatures": [{"protected": head, "signature": sig}]})
    refused(general, "segment_count")
    nested = resign_rs256('{"alg":"RS256","kid":"rsa1","cty":"JWT"}', json.dumps(GOOD))
    refused(nested, "nested_token")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "malformed"),
        ("a.b", "segment_count"),
        (".", "segment_count"),
        ("a.b.c.d", "segment_count"),
        ("..", ("bad_json", "not_an_object", "missing_signature")),
        ("." * 16384, "segment_count"),
        ("." * 1_000_000, "token_too_long"),
    ],
)
def test_a18_segment_counts(token: str, reason: str) -> None:
    refused(token, reason)


# ---- B: claims and identity provider matching --------------------------------------------------


def test_b01_expired_and_leeway_boundary() -> None:
    # supabase has leeway 0, auth0 60 s; a subject token expiring within the leeway passes
    # verification but a dead-on-arrival token is not issued (long-lived may outlive it)
    refused(hs256(claims_for(SUPABASE, "authenticated", exp=int(NOW) - 1)), "expired")
    refused(rs256(auth0_claims(exp=int(NOW) - 61)), "expired", service="long-lived")
    refused(rs256(auth0_claims(exp=int(NOW) - 60)), "expired", service="long-lived")
    assert run(rs256(auth0_claims(exp=int(NOW) - 59)), service="long-lived").expires_in == 86400
    assert run(hs256(claims_for(SUPABASE, "authenticated", exp=int(NOW) + 1))).expires_in == 1


def test_b02_exp_is_required() -> None:
    refused(rs256(auth0_claims(exp=DROP)), "missing_exp")


def test_b04_not_before_and_issued_at_in_the_future() -> None:
    refused(rs256(auth0_claims(nbf=int(NOW) + 600, exp=int(NOW) + 900)), "not_yet_valid")
    refused(rs256(auth0_claims(iat=int(NOW) + 600, exp=int(NOW) + 900)), "iat_future")
    assert run(rs256(auth0_claims(nbf=int(NOW) + 60, iat=int(NOW) + 60))).expires_in == 600


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ['"9999999999"', "true", "[1]", "null", '{"n":1}'])
def test_b05_numeric_date_type_confusion(claim: str, value: str) -> None:
    claims = auth0_claims()
    claims.pop(claim, None)
    payload = json.dumps(claims)[:-1] + f', "{claim}": {value}}}'
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1"}', payload), "malformed")


@pytest.mark.parametrize("value", ["1e999", "NaN", "Infinity", "-Infinity"])
def test_b05_non_finite_numbers(value: str) -> None:
    claims = auth0_claims()
    del claims["exp"]
    payload = json.dumps(claims)[:-1] + f', "exp": {value}}}'
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1"}', payload), ("bad_json", "malformed"))


def test_b05_negative_exp_is_a_number_and_expired() -> None:
    refused(rs256(auth0_claims(exp=-1)), "expired")


def test_b07_issuer_missing_while_the_provider_has_one() -> None:
    refused(rs256(auth0_claims(iss=DROP)), "untrusted_issuer")
    refused(rs256(claims_for(None, "x"), kid="gh1", key=GITHUB_KEY), "untrusted_issuer")


@pytest.mark.parametrize(
    "iss",
    [
        "https://example.us.auth0.com",
        "HTTPS://EXAMPLE.US.AUTH0.COM/",
        "https://example.us.auth0.c\u043em/",
        "https://example.us.\uff41uth0.com/",
        AUTH0 + "\u200b",
        AUTH0 + "\u0000",
        "https://example.us.auth0.com//",
        "https://example",
    ],
)
def test_b08_issuer_look_alikes(iss: str) -> None:
    refused(rs256(auth0_claims(iss=iss)), "untrusted_issuer")


@pytest.mark.parametrize("iss", [[AUTH0], 123])
def test_b09_issuer_list_or_number(iss: Any) -> None:
    payload = json.dumps(auth0_claims(iss=iss))  # PyJWT refuses to mint these
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1"}', payload), "malformed")


def test_b10_same_provider_other_audience() -> None:
    refused(rs256(auth0_claims(aud="other-svc")), "untrusted_issuer")


def test_b11_audience_list_containing_ours_is_accepted() -> None:
    assert run(rs256(auth0_claims(aud=[AUTH0_AUD, "other"]))).identity_provider == "auth0"


@pytest.mark.parametrize(
    ("aud", "reason"),
    [(123, "malformed"), ([123], "malformed"), ({"x": AUTH0_AUD}, "malformed"), ("", "malformed"),
     ([], "malformed"), (None, "malformed"), (AUTH0_AUD.upper(), "untrusted_issuer"),
     (AUTH0_AUD + "/", "untrusted_issuer")],
)  # fmt: skip
def test_b12_audience_type_confusion(aud: Any, reason: str) -> None:
    refused(rs256(auth0_claims(aud=aud)), reason)


@pytest.mark.parametrize("sub", [123, "", None, ["u"]])
def test_b15_sub_must_be_a_non_empty_string(sub: Any) -> None:
    refused(rs256(auth0_claims(sub=sub)), "malformed")


def test_b16_duplicate_claims() -> None:
    payload = json.dumps(auth0_claims())[:-1] + ', "sub": "admin"}'
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1"}', payload), "bad_json")


def test_b17_deep_nesting() -> None:
    payload = '{"exp":1,"x":' + "[" * 12_000 + "]" * 12_000 + "}"
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1"}', payload), ("bad_json", "token_too_long"))
    payload = '{"exp":1,"x":' + "[" * 5_000 + "]" * 5_000 + "}"
    refused(resign_rs256('{"alg":"RS256","kid":"rsa1"}', payload), "bad_json")


@pytest.mark.parametrize("value", [["a", "b"], {"deep": {"er": [1, None]}}, 12.5, None, True])
def test_b19_odd_claim_shapes_are_mapped_as_json(value: Any) -> None:
    issued = run(rs256(auth0_claims(role=value)))
    assert issued.claims["act"]["role"] == value


def test_b20_input_claims_cannot_replace_issued_registered_claims() -> None:
    issued = run(rs256(auth0_claims(jti="attacker-jti", nbf=int(NOW) - 5)))
    assert issued.claims["jti"] == "jti-0001"
    assert issued.claims["iss"] == "https://tokens.example.com/"
    assert issued.claims["aud"] == "https://api.example.com/"
    assert issued.claims["act"]["jti"] == "attacker-jti"  # copied by the mapping, under act only


def test_b23_token_signed_by_another_providers_key() -> None:
    # iss says github, signed with auth0's key: only github's keys are ever tried
    refused(rs256(claims_for(GITHUB, "x"), kid="rsa1"), "no_matching_key")
    refused(rs256(claims_for(GITHUB, "x"), kid="gh1"), "bad_signature")
    # and an HMAC provider's secret does not sign for another HMAC provider
    refused(hs256(claims_for(None, "svc-b", sub=DROP), AUD_A_SECRET), "bad_signature")


def test_b24_token_matching_two_providers() -> None:
    token = hs256(claims_for(None, ["svc-a", "svc-b"]), AUD_A_SECRET)
    refused(token, "ambiguous")


def test_b25_token_matching_no_provider() -> None:
    err = refused(rs256(claims_for("https://nobody.example", "nobody")), "untrusted_issuer")
    assert (
        err.description
        == refused(eddsa(claims_for(ED_ISS, "nope")), "untrusted_issuer").description
    )


def test_refusals_never_leak_into_a_success() -> None:
    """Sanity: the world accepts the untouched tokens these attacks were derived from."""
    assert run(GOOD).identity_provider == "auth0"
    assert run(hs256(claims_for(SUPABASE, "authenticated"))).identity_provider == "supabase"
    with pytest.raises(InvalidRequest):
        run(GOOD, now=NOW + 10_000)


def _ecidp_token() -> str:
    return jwt.encode(claims_for("https://ec.example", "svc", tier="gold"), EC_KEY,
                      algorithm="ES256", headers={"kid": "ec1"})  # fmt: skip


def test_a09_psychic_es256_signatures() -> None:
    head, body, _ = _ecidp_token().split(".")
    refused(f"{head}.{body}.{b64(bytes(64))}", "bad_signature")
    ones = (1).to_bytes(32, "big") * 2  # r = s = 1
    refused(f"{head}.{body}.{b64(ones)}", "bad_signature")


def test_a10_der_and_wrong_length_es256_signatures() -> None:
    token = _ecidp_token()
    assert run(token).identity_provider == "ecidp"
    head, body, _ = token.split(".")
    der = EC_KEY.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(der)  # a genuine signature, in the wrong encoding
    refused(f"{head}.{body}.{b64(der)}", "bad_signature")
    for raw in (bytes(63), bytes(65)):
        refused(f"{head}.{body}.{b64(raw)}", "bad_signature")


def test_a21_an_issued_token_posted_back_is_not_trusted() -> None:
    issued = run(GOOD).access_token
    refused(issued, "untrusted_issuer")
