"""Differential tests against PyJWT.

1. Every token our envelope parser and typed keys accept, `jwt.decode` with equivalent options
   (`algorithms=[alg]`, `require: ["exp"]`) accepts too, with the same claims, for every
   algorithm family (hypothesis draws claims and extra header members).
2. For a set of mutated tokens we refuse, PyJWT's verdict is recorded here. Observed with
   PyJWT 2.15.1 (HS256, `require: ["exp"]`):

   | mutation                        | ours   | PyJWT  |
   |---------------------------------|--------|--------|
   | `=` after the signature         | refuse | accept |
   | duplicate header member         | refuse | accept (last wins) |
   | duplicate claim                 | refuse | accept (last wins) |
   | UTF-8 BOM / UTF-16 header       | refuse | accept (json sniffs encodings) |
   | `b64: true`                     | refuse | accept |
   | `jku` / `jwk` / `x5c` in header | refuse | accept (ignored) |
   | `cty: JWT`                      | refuse | accept |
   | lone surrogate in a claim       | refuse | accept |
   | nesting deeper than 32          | refuse | accept |
   | `1e999` in a claim              | refuse | accept (inf) |
   | `crit`, non-string `kid`, `NaN`, non-zero unused bits | refuse | refuse |

   Only the verdicts that PyJWT has kept stable for years (signature damage, `alg: none`,
   `crit`) are asserted; the rest are documented, since a newer PyJWT may become stricter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime.errors import InvalidRequest
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.jwk import parse_jwk_set
from tokensmith.runtime.keys import VerificationKey
from tokensmith.runtime.verification_keys import HmacKey

RSA_KEY = rsa.generate_private_key(65537, 2048)
EC_KEYS = {
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "ES384": ec.generate_private_key(ec.SECP384R1()),
    "ES512": ec.generate_private_key(ec.SECP521R1()),
}
ED_KEY = ed25519.Ed25519PrivateKey.generate()
HMAC_SECRET = b"differential-testing-secret-" + b"0123456789" * 4
EXP = 4_000_000_000


def _private(alg: str) -> Any:
    if alg.startswith("HS"):
        return HMAC_SECRET
    if alg.startswith(("RS", "PS")):
        return RSA_KEY
    return ED_KEY if alg == "EdDSA" else EC_KEYS[alg]


def _public_jwk(alg: str) -> dict[str, Any]:
    key = _private(alg)
    algorithm = jwt.get_algorithm_by_name(alg)
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": "k1"}


def _our_key(alg: str) -> VerificationKey:
    if alg.startswith("HS"):
        return HmacKey("k1", HMAC_SECRET, [alg])
    (key,) = parse_jwk_set({"keys": [_public_jwk(alg)]}, [alg]).keys
    return key


def _pyjwt_key(alg: str) -> Any:
    return HMAC_SECRET if alg.startswith("HS") else jwt.PyJWK(_public_jwk(alg), algorithm=alg)


ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"]  # fmt: skip
OUR_KEYS = {alg: _our_key(alg) for alg in ALGS}
PYJWT_KEYS = {alg: _pyjwt_key(alg) for alg in ALGS}

RESERVED = {"exp", "iat", "nbf", "aud", "iss", "sub", "jti"}
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
claims_strategy = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in RESERVED), json_value, max_size=6
)
extra_header = st.fixed_dictionaries(
    {},
    optional={
        "typ": st.sampled_from(["JWT", "at+jwt", "JOSE"]),
        "x5t": st.text(alphabet="abcdef0123456789", max_size=40),
        "cty": st.sampled_from(["json", "application/example"]),
    },
)


def _ours_accepts(token: str, alg: str) -> bool:
    try:
        jws = parse_compact(token)
    except InvalidRequest:
        return False
    key = OUR_KEYS[alg]
    return jws.header["alg"] == alg and key.verify(alg, jws.signing_input, jws.signature)


def _pyjwt_decode(token: str, alg: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        token, PYJWT_KEYS[alg], algorithms=[alg], options={"require": ["exp"]}
    )
    return decoded


@pytest.mark.slow
@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=25, deadline=None)
@given(claims=claims_strategy, header=extra_header)
def test_every_token_we_accept_pyjwt_accepts_with_the_same_claims(
    alg: str, claims: dict[str, Any], header: dict[str, Any]
) -> None:
    payload = {**claims, "exp": EXP}
    token = jwt.encode(payload, _private(alg), algorithm=alg, headers={"kid": "k1", **header})
    assert _ours_accepts(token, alg)
    assert _pyjwt_decode(token, alg) == parse_compact(token).claims == payload


# --- mutations -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: bytes, payload: bytes) -> str:
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature = hmac.new(HMAC_SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


PAYLOAD = b'{"sub":"u1","exp":4000000000}'
HEADER = b'{"alg":"HS256","kid":"k1"}'
GOOD = _hs256(HEADER, PAYLOAD)
_sig = GOOD.split(".")[2]
_NONE = _b64(b'{"alg":"none"}')
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

MUTATIONS: dict[str, str] = {
    "padded signature": GOOD + "=",
    "duplicate header member": _hs256(b'{"alg":"HS256","alg":"HS256"}', PAYLOAD),
    "duplicate claim": _hs256(HEADER, b'{"sub":"a","sub":"admin","exp":4000000000}'),
    "BOM header": _hs256(b"\xef\xbb\xbf" + HEADER, PAYLOAD),
    "UTF-16 header": _hs256(HEADER.decode().encode("utf-16"), PAYLOAD),
    "b64 header": _hs256(b'{"alg":"HS256","b64":true}', PAYLOAD),
    "jku header": _hs256(b'{"alg":"HS256","jku":"https://attacker.example/"}', PAYLOAD),
    "jwk header": _hs256(b'{"alg":"HS256","jwk":{"kty":"oct","k":"AA"}}', PAYLOAD),
    "x5c header": _hs256(b'{"alg":"HS256","x5c":["AA"]}', PAYLOAD),
    "nested cty": _hs256(b'{"alg":"HS256","cty":"JWT"}', PAYLOAD),
    "lone surrogate": _hs256(HEADER, b'{"sub":"\\ud800","exp":4000000000}'),
    "deep nesting": _hs256(HEADER, b'{"exp":4000000000,"a":' + b"[" * 40 + b"]" * 40 + b"}"),
    "overflowing number": _hs256(HEADER, b'{"exp":4000000000,"a":1e999}'),
    # stable refusals on both sides
    "crit header": _hs256(b'{"alg":"HS256","crit":["x"],"x":1}', PAYLOAD),
    "non-string kid": _hs256(b'{"alg":"HS256","kid":1}', PAYLOAD),
    "NaN claim": _hs256(HEADER, b'{"exp":NaN}'),
    "non-zero unused bits": GOOD[:-1] + _ALPHABET[_ALPHABET.index(_sig[-1]) ^ 1],
    "alg none": f"{_NONE}.{_b64(PAYLOAD)}.",
    "alg none with signature": f"{_NONE}.{_b64(PAYLOAD)}.{_sig}",
    "flipped signature": GOOD[:-2] + ("B" if GOOD[-2] != "B" else "C") + GOOD[-1],
    "truncated signature": GOOD[:-4],
    "changed payload": _hs256(HEADER, PAYLOAD)[: GOOD.index(".") + 1]
    + _b64(b'{"sub":"u2","exp":4000000000}')
    + "."
    + _sig,
}
PYJWT_ALSO_REFUSES = {
    "crit header",
    "alg none",
    "alg none with signature",
    "flipped signature",
    "truncated signature",
    "changed payload",
}


def _pyjwt_verdict(token: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _pyjwt_decode(token, "HS256")
    except jwt.PyJWTError:
        return False
    return True


def test_the_unmutated_token_is_accepted_by_both() -> None:
    assert _ours_accepts(GOOD, "HS256") and _pyjwt_verdict(GOOD)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_we_refuse_every_mutation_and_pyjwt_verdicts_are_recorded(name: str) -> None:
    token = MUTATIONS[name]
    assert not _ours_accepts(token, "HS256")
    if name in PYJWT_ALSO_REFUSES:
        assert not _pyjwt_verdict(token)
