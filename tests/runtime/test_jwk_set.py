"""JWK Set import: bad keys are dropped with a reason, good ones kept, bad documents refused.

Catalogue rows A05, C19-C23 and E04 at the parsing level (the JWKS engineer drives them over HTTP).
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from tokensmith.runtime.jwk import (
    DroppedKey,
    JwkSetError,
    parse_inline_jwks,
    parse_jwk_set,
)
from tokensmith.runtime.static_keys import StaticKeySource
from tokensmith.runtime.strict_json import StrictJSONError, loads
from tokensmith.runtime.verification_keys import EcKey, EdKey, HmacKey, RsaKey

RSA_KEY = rsa.generate_private_key(65537, 2048)
P256 = ec.generate_private_key(ec.SECP256R1())
P521 = ec.generate_private_key(ec.SECP521R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()
ED448 = ed448.Ed448PrivateKey.generate()
MESSAGE = b"header.payload"


def public_jwk(key: Any, **extra: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        text = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        text = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())
    else:
        text = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key())
    return {**json.loads(text), **extra}


def private_jwk(key: Any, **extra: Any) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(key, rsa.RSAPrivateKey)
        else (jwt.algorithms.ECAlgorithm)
    )
    return {**json.loads(algorithm.to_jwk(key)), **extra}


def reasons(keys: list[Any], algorithms: list[str]) -> list[str]:
    return [d.reason for d in parse_jwk_set({"keys": keys}, algorithms).dropped]


def test_good_keys_of_every_family_become_typed_keys() -> None:
    doc = {
        "keys": [
            public_jwk(RSA_KEY, kid="r", use="sig", alg="RS256"),
            public_jwk(P256, kid="e", key_ops=["verify"]),
            public_jwk(P521, kid="e5"),
            public_jwk(ED25519, kid="d"),
            public_jwk(ED448, kid="d4"),
        ]
    }
    result = parse_jwk_set(doc, ["RS256", "ES256", "ES512", "EdDSA"])
    assert result.dropped == ()
    assert [type(k) for k in result.keys] == [RsaKey, EcKey, EcKey, EdKey, EdKey]
    assert [k.kid for k in result.keys] == ["r", "e", "e5", "d", "d4"]
    assert result.keys[0].algorithms == {"RS256"}
    assert result.keys[2].algorithms == {"ES512"}
    signature = jwt.get_algorithm_by_name("RS256").sign(MESSAGE, RSA_KEY)
    assert result.keys[0].verify("RS256", MESSAGE, signature)


def test_rsa_key_with_private_members_is_dropped() -> None:
    assert reasons([private_jwk(RSA_KEY, kid="p")], ["RS256"]) == ["private_key"]
    assert reasons([private_jwk(P256, kid="p")], ["ES256"]) == ["private_key"]
    for member in ("d", "p", "q", "dp", "dq", "qi", "oth"):
        assert reasons([public_jwk(RSA_KEY, **{member: "AQAB"})], ["RS256"]) == ["private_key"]


def test_symmetric_oct_keys_are_never_accepted_from_a_set() -> None:
    oct_key = {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "o"}
    result = parse_jwk_set({"keys": [oct_key, public_jwk(RSA_KEY, kid="r")]}, ["HS256", "RS256"])
    assert result.dropped == (DroppedKey("o", "symmetric_key"),)
    assert [k.kid for k in result.keys] == ["r"]
    assert not any(isinstance(k, HmacKey) for k in result.keys)
    assert reasons([{"kty": "oct", "kid": "x"}], ["HS256"]) == ["symmetric_key"]


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"use": "enc"}, "not_for_signatures"),
        ({"use": 1}, "not_for_signatures"),
        ({"key_ops": ["encrypt"]}, "not_for_signatures"),
        ({"key_ops": "verify"}, "not_for_signatures"),
        ({"alg": "ES256"}, "alg_mismatch"),
        ({"alg": "HS256"}, "alg_mismatch"),
        ({"alg": 1}, "alg_mismatch"),
        ({"alg": "RS512"}, "alg_not_allowed"),
        ({"kid": 12}, "bad_kid"),
        ({"kid": None}, "bad_kid"),
        ({"kid": "k" * 300}, "bad_kid"),
        ({"n": "not base64!"}, "bad_member"),
        ({"n": 12345}, "bad_member"),
        ({"e": "AQ+B"}, "bad_member"),
        ({"e": "AQ"}, "weak_key"),  # e = 1
        ({"e": "Ag"}, "weak_key"),  # e = 2
        ({"e": "AAEAAA"}, "invalid_key"),  # e even
        ({"e": "AQAAAAE"}, "weak_key"),  # e = 2**32 + 1: every verification would be slow
        ({"e": "AQAAAAAAAAAAAAAAAQ"}, "weak_key"),
    ],
)
def test_bad_rsa_keys_are_dropped_with_a_reason(extra: dict[str, Any], reason: str) -> None:
    assert reasons([public_jwk(RSA_KEY, **extra)], ["RS256"]) == [reason]


def test_dropped_keys_never_carry_a_huge_or_non_string_kid() -> None:
    keys = [public_jwk(RSA_KEY, kid="k" * 100_000), public_jwk(RSA_KEY, kid=["x"])]
    assert parse_jwk_set({"keys": keys}, ["RS256"]).dropped == (
        DroppedKey(None, "bad_kid"),
        DroppedKey(None, "bad_kid"),
    )


def test_rsa_sizes_outside_bounds_are_dropped() -> None:
    weak = rsa.generate_private_key(65537, 1024)
    assert reasons([public_jwk(weak, kid="w")], ["RS256"]) == ["weak_key"]
    huge = public_jwk(RSA_KEY, kid="h")
    huge["n"] = jwt.utils.base64url_encode((2**16384 - 1).to_bytes(2048, "big")).decode()
    assert reasons([huge], ["RS256"]) == ["weak_key"]


@pytest.mark.parametrize(
    "jwk, reason",
    [
        ({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}, "unknown_crv"),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "bad_member"),
        ({"kty": "OKP", "crv": "X25519", "x": "AAAA"}, "unknown_crv"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "bad_member"),
        ({"kty": "RSA"}, "bad_member"),
        ({"kty": "DSA"}, "unknown_kty"),
        ({"n": "AQAB"}, "unknown_kty"),
        ("not an object", "not_an_object"),
        ([1, 2], "not_an_object"),
    ],
)
def test_unknown_or_incomplete_keys_are_dropped(jwk: Any, reason: str) -> None:
    assert reasons([jwk], ["ES256", "EdDSA", "RS256"]) == [reason]


def test_even_modulus_is_dropped() -> None:
    jwk = public_jwk(RSA_KEY, kid="even")
    n = int.from_bytes(jwt.utils.base64url_decode(jwk["n"]), "big") + 1
    jwk["n"] = jwt.utils.base64url_encode(n.to_bytes(256, "big")).decode()
    assert reasons([jwk], ["RS256"]) == ["invalid_key"]


def test_ec_point_not_on_the_curve_is_dropped() -> None:
    jwk = public_jwk(P256, kid="bad")
    jwk["y"] = jwk["x"]
    assert reasons([jwk], ["ES256"]) == ["invalid_key"]


def test_ec_key_with_rsa_alg_and_family_not_allowed_are_dropped() -> None:
    assert reasons([public_jwk(P256, alg="RS256")], ["RS256", "ES256"]) == ["alg_mismatch"]
    assert reasons([public_jwk(P256, alg="ES384")], ["ES384"]) == ["alg_mismatch"]
    assert reasons([public_jwk(P256)], ["RS256"]) == ["alg_not_allowed"]


def test_one_bad_key_does_not_take_the_good_ones_down() -> None:
    weak = rsa.generate_private_key(65537, 1024)
    keys = [
        public_jwk(weak, kid="weak"),
        private_jwk(RSA_KEY, kid="private"),
        public_jwk(RSA_KEY, kid="enc", use="enc"),
        public_jwk(RSA_KEY, kid="good"),
        {"kty": "oct", "k": "AAAA", "kid": "sym"},
        public_jwk(P256, kid="ec-as-rsa", alg="RS256"),
    ]
    result = parse_jwk_set({"keys": keys}, ["RS256"])
    assert [k.kid for k in result.keys] == ["good"]
    assert {(d.kid, d.reason) for d in result.dropped} == {
        ("weak", "weak_key"),
        ("private", "private_key"),
        ("enc", "not_for_signatures"),
        ("sym", "symmetric_key"),
        ("ec-as-rsa", "alg_mismatch"),
    }


def test_duplicate_kid_with_different_material_keeps_both() -> None:
    other = rsa.generate_private_key(65537, 2048)
    doc = {"keys": [public_jwk(RSA_KEY, kid="same"), public_jwk(other, kid="same")]}
    result = parse_jwk_set(doc, ["RS256"])
    assert [k.kid for k in result.keys] == ["same", "same"]
    source = StaticKeySource(result.keys)
    signature = jwt.get_algorithm_by_name("RS256").sign(MESSAGE, other)
    assert any(k.verify("RS256", MESSAGE, signature) for k in source.candidates("same", "RS256"))


@pytest.mark.parametrize(
    "document",
    [[], "keys", None, {}, {"keys": {}}, {"keys": "x"}, {"keys": None}, {"key": []}],
)
def test_wrongly_shaped_documents_are_refused_whole(document: Any) -> None:
    with pytest.raises(JwkSetError) as info:
        parse_jwk_set(document, ["RS256"])
    assert issubclass(JwkSetError, ValueError)
    assert info.value.kind == "document"


def test_too_many_keys_refuse_the_document() -> None:
    many = {"keys": [public_jwk(P256, kid=str(i)) for i in range(101)]}
    with pytest.raises(JwkSetError) as info:
        parse_jwk_set(many, ["ES256"])
    assert info.value.kind == "too_many_keys"
    assert len(parse_jwk_set(many, ["ES256"], max_keys=101).keys) == 101


def test_duplicate_members_in_the_document_are_refused_by_strict_json() -> None:
    text = b'{"keys":[],"keys":[]}'
    with pytest.raises(StrictJSONError):
        loads(text)


def test_empty_key_list_is_a_valid_document_with_no_keys() -> None:
    result = parse_jwk_set({"keys": []}, ["RS256"])
    assert result.keys == () and result.dropped == ()


def test_inline_jwks_apply_the_same_hygiene() -> None:
    result = parse_inline_jwks({"keys": [private_jwk(RSA_KEY, kid="p")]}, ["RS256"])
    assert result.dropped == (DroppedKey("p", "private_key"),)


def test_padded_base64url_members_are_tolerated() -> None:
    jwk = public_jwk(RSA_KEY, kid="padded")
    jwk["n"] += "=" * (-len(jwk["n"]) % 4)
    assert [k.kid for k in parse_jwk_set({"keys": [jwk]}, ["RS256"]).keys] == ["padded"]


# --- StaticKeySource selection ---------------------------------------------------------------


def test_static_source_selects_by_kid_and_alg() -> None:
    keys = parse_jwk_set(
        {"keys": [public_jwk(RSA_KEY, kid="a"), public_jwk(P256, kid="b")]}, ["RS256", "ES256"]
    ).keys
    source = StaticKeySource(keys)
    assert [k.kid for k in source.candidates("a", "RS256")] == ["a"]
    assert list(source.candidates("a", "ES256")) == []
    assert list(source.candidates("unknown", "RS256")) == []
    assert [k.kid for k in source.candidates(None, "ES256")] == ["b"]


def test_tokens_without_kid_try_at_most_four_compatible_keys() -> None:
    four = [public_jwk(P256, kid=str(i)) for i in range(4)]
    assert (
        len(
            StaticKeySource(parse_jwk_set({"keys": four}, ["ES256"]).keys).candidates(None, "ES256")
        )
        == 4
    )
    five = [public_jwk(P256, kid=str(i)) for i in range(5)]
    source = StaticKeySource(parse_jwk_set({"keys": five}, ["ES256"]).keys)
    assert list(source.candidates(None, "ES256")) == []
    assert [k.kid for k in source.candidates("3", "ES256")] == ["3"]


def test_a_secret_answers_tokens_with_any_kid() -> None:
    source = StaticKeySource([HmacKey(None, b"s" * 32, ["HS256"])])
    assert len(source.candidates("whatever-supabase-sends", "HS256")) == 1
    assert len(source.candidates(None, "HS256")) == 1
    assert list(source.candidates("k", "RS256")) == []
