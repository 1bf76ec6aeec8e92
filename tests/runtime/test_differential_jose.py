"""Differential JOSE: what tokensmith accepts, PyJWT, joserfc and jwcrypto accept too.

For each of the 13 algorithms, hypothesis draws tokens (header members and their order,
registered claims around the boundaries, other claims of any JSON shape, several JSON
spellings), signs them with the provider's real key and sends each through the whole exchange
of a bundle with one identity provider per algorithm. Every token the exchange accepts must be
accepted by all three libraries, with the same key, algorithm, issuer, audience and leeway,
and decode to the same claims: tokensmith is never the looser parser.

The other way round is not asked: tokensmith refuses much they accept (duplicate members,
`jku`, `cty: JWT`, lone surrogates, deep nesting...; see `test_differential.py`). So the second
half sends tokens of the attack catalogue, each refused by tokensmith whatever the others do,
and records their verdicts here (observed with PyJWT 2.15.1, joserfc 1.8.0, jwcrypto 1.6.1).

What the libraries check that tokensmith does not read, and so is not drawn: `jti` (PyJWT
and jwcrypto want a string) and a `typ` claim (jwcrypto wants a string: a CI run drew
`"typ": []`, which tokensmith rightly accepts, as it reads no such claim). joserfc is told
to ignore unknown header members, as RFC 7515 has a recipient
do (by default it refuses them), and to take headers as long as tokensmith does (its default
limit is 512 bytes). Claim values are compared as decoded JSON.
"""

from __future__ import annotations

import base64
import functools
import json
import time
import warnings
from typing import Any

import jwcrypto.jwk
import jwcrypto.jwt
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from joserfc import jwt as jrfc_jwt
from joserfc.jwk import import_key as jrfc_import_key
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import ExchangeRequest, exchange
from tokensmith.runtime.jose import MAX_TOKEN_LENGTH, parse_compact
from tokensmith.runtime.startup import prepare

from ..support.http_server import config, idp, token_provider, write_bundle

ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"]  # fmt: skip
AUDIENCE = "svc-aud"
LEEWAY = 60  # what `idp()` writes into the bundle
RSA_KEY = rsa.generate_private_key(65537, 2048)
OTHER_RSA_KEY = rsa.generate_private_key(65537, 2048)
PRIVATE: dict[str, Any] = {
    **{alg: f"differential-{alg}-secret-0123456789-0123456789-0123456789-abcdef".encode()
       for alg in ("HS256", "HS384", "HS512")},
    **{alg: RSA_KEY for alg in ALGS if alg[:2] in ("RS", "PS")},
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "ES384": ec.generate_private_key(ec.SECP384R1()),
    "ES512": ec.generate_private_key(ec.SECP521R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
}


def issuer(alg: str) -> str:
    return f"https://{alg.lower()}.idp.example/"


def public_jwk(alg: str) -> dict[str, Any]:
    if alg.startswith("HS"):
        return {"kty": "oct", "k": b64(PRIVATE[alg]), "kid": "k1"}
    algorithm = jwt.get_algorithm_by_name(alg)
    return {**json.loads(algorithm.to_jwk(PRIVATE[alg].public_key())), "kid": "k1"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Any:
    providers = {
        alg.lower(): idp(issuer=issuer(alg), audience=AUDIENCE, algorithms=[alg],
                         secret_env=f"SECRET_{alg}" if alg.startswith("HS") else None,
                         jwks=None if alg.startswith("HS") else {"keys": [public_jwk(alg)]})
        for alg in ALGS
    }
    bundle = write_bundle(tmp_path_factory.mktemp("differential") / "bundle", config(
        identity_providers=providers,
        token_providers={"svc": token_provider("svc", "k")},
        signing_keys={"k": {"algorithm": "HS256", "secret": {"env": "SIGNING"},
                            "private_key": None}},
    ))
    env = {f"SECRET_{alg}": PRIVATE[alg].decode() for alg in ("HS256", "HS384", "HS512")}
    return prepare(str(bundle), {**env, "SIGNING": "differential-signing-secret-0123456789-abc"}).state


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(alg: str, header: bytes, payload: bytes, key: Any = None) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}"
    algorithm = jwt.get_algorithm_by_name(alg)
    signature = algorithm.sign(signing_input.encode(), PRIVATE[alg] if key is None else key)
    return f"{signing_input}.{b64(signature)}"


# --- the four verdicts --------------------------------------------------------------------------


def tokensmith_refusal(state: Any, token: str, now: float) -> str | None:
    """The reason the whole exchange refuses `token`, or None when it issues a token."""
    try:
        exchange(state, ExchangeRequest(token, "svc"), now, lambda: "jti")
    except ExchangeError as exc:
        return exc.reason
    return None


def tokensmith_accepts(state: Any, token: str, now: float) -> bool:
    return tokensmith_refusal(state, token, now) is None


def pyjwt_claims(token: str, alg: str) -> dict[str, Any]:
    key = PRIVATE[alg] if alg.startswith("HS") else jwt.PyJWK(public_jwk(alg), algorithm=alg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[alg], audience=AUDIENCE, issuer=issuer(alg), leeway=LEEWAY,
            options={"require": ["exp"]})
    return claims


def joserfc_claims(token: str, alg: str) -> dict[str, Any]:
    key = jrfc_import_key(public_jwk(alg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "EdDSA is deprecated via RFC 9864" (for Ed25519)
        decoded = jrfc_jwt.decode(token, key, algorithms=[alg], registry=JOSERFC_REGISTRY[alg])
    JWTClaimsRegistry(leeway=LEEWAY, exp={"essential": True},
                      iss={"essential": True, "value": issuer(alg)},
                      aud={"essential": True, "value": AUDIENCE}).validate(decoded.claims)
    return dict(decoded.claims)


def jwcrypto_claims(token: str, alg: str) -> dict[str, Any]:
    key = jwcrypto.jwk.JWK(**public_jwk(alg))
    checked = jwcrypto.jwt.JWT(jwt=token, key=key, algs=[alg], expected_type="JWS",
                               check_claims={"exp": None, "iss": issuer(alg), "aud": AUDIENCE})
    claims: dict[str, Any] = json.loads(checked.claims)
    return claims


#: joserfc refuses header members it does not know unless told otherwise; RFC 7515 (4) has a
#: recipient ignore them, as tokensmith, PyJWT and jwcrypto do.
#: (A registry given to `decode` decides the algorithms: one per algorithm.) Its limit on the
#: header, 512 bytes, is raised to the whole token's limit, the only one tokensmith has.
JOSERFC_REGISTRY = {alg: JWSRegistry(algorithms=[alg], strict_check_header=False) for alg in ALGS}
for _registry in JOSERFC_REGISTRY.values():
    _registry.max_header_length = MAX_TOKEN_LENGTH
LIBRARIES = {"PyJWT": pyjwt_claims, "joserfc": joserfc_claims, "jwcrypto": jwcrypto_claims}


def verdicts(token: str, alg: str) -> dict[str, bool]:
    """Whether each library accepts `token` (anything it raises is a refusal)."""
    out = {}
    for name, decode in LIBRARIES.items():
        try:
            decode(token, alg)
            out[name] = True
        except Exception:
            out[name] = False
    return out


# --- tokens drawn by hypothesis -----------------------------------------------------------------

json_leaf = (st.none() | st.booleans() | st.integers(-(2**63), 2**63)
             | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=8)
REGISTERED = {"iss", "aud", "sub", "exp", "nbf", "iat", "jti"}
#: claims some library type-checks although no RFC 7519 rule and no tokensmith check reads them
LIBRARY_TYPED = {"typ"}
NOT_DRAWN = REGISTERED | LIBRARY_TYPED
other_claims = st.dictionaries(st.text(max_size=10).filter(lambda k: k not in NOT_DRAWN),
                               json_value, max_size=5)
header_extras = st.fixed_dictionaries({}, optional={
    "kid": st.sampled_from(["k1", "k1", "k1", "k2", ""]),
    "typ": st.sampled_from(["JWT", "jwt", "at+jwt", "JOSE"]),
    "cty": st.sampled_from(["json", "application/example"]),
    "x5t": st.text(alphabet="abcdef0123456789", max_size=20),
    "ext": json_value,
})
# seconds from now: the leeway boundaries and well inside or outside them; `exp` mostly valid
# and `nbf`/`iat` mostly past, so that most tokens are accepted and the property has work
past = st.sampled_from([-3600, -LEEWAY - 1, -LEEWAY + 1, -1, 0])
future = st.sampled_from([0, 1, LEEWAY - 1, LEEWAY + 1, 600, 10**6])
mostly = st.integers(0, 5)
spellings = st.sampled_from(["compact", "spaced", "ascii", "indented"])


def spell(value: dict[str, Any], how: str) -> bytes:
    if how == "compact":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if how == "spaced":
        return json.dumps(value, ensure_ascii=False).encode()
    if how == "ascii":
        return json.dumps(value).encode()
    return json.dumps(value, indent=1).encode()


@st.composite
def tokens(draw: st.DrawFn, alg: str, now: int) -> str:
    header = {"alg": alg, **draw(header_extras)}
    order = draw(st.permutations(list(header)))
    payload: dict[str, Any] = {
        "iss": issuer(alg) if draw(mostly) else issuer(alg).rstrip("/"),
        "aud": draw(st.sampled_from([AUDIENCE] * 4 + [[AUDIENCE], ["other", AUDIENCE], "other"])),
        "sub": draw(st.sampled_from(["user-1", "ü", "0"])),
        "exp": now + draw(future if draw(mostly) else past) + draw(st.sampled_from([0, 0.5])),
    }
    for name in ("nbf", "iat"):
        if draw(st.booleans()):
            payload[name] = now + draw(past if draw(mostly) else future)
    payload.update(draw(other_claims))
    keys = draw(st.permutations(list(payload)))
    return sign(alg, spell({k: header[k] for k in order}, draw(spellings)),
                spell({k: payload[k] for k in keys}, draw(spellings)))


@pytest.mark.slow  # about 50 s for the 13 algorithms
@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_token_tokensmith_accepts_the_three_libraries_accept(
    state: Any, alg: str, data: st.DataObject
) -> None:
    now = int(time.time())
    token = data.draw(tokens(alg, now))
    refusal = tokensmith_refusal(state, token, now)
    event(f"refused by tokensmith: {refusal}" if refusal else "accepted by tokensmith")
    if refusal is not None:
        return
    claims = dict(parse_compact(token).claims)
    for name, decode in LIBRARIES.items():
        assert decode(token, alg) == claims, name


@pytest.mark.parametrize("alg", ALGS)
def test_a_plain_good_token_is_accepted_by_all_four(state: Any, alg: str) -> None:
    # the property above is not vacuous: its simplest token passes everywhere
    now = int(time.time())
    token = sign(alg, spell({"alg": alg, "kid": "k1"}, "compact"), spell(
        {"iss": issuer(alg), "aud": AUDIENCE, "sub": "u", "exp": now + 600}, "compact"))
    assert tokensmith_accepts(state, token, now)
    assert verdicts(token, alg) == {"PyJWT": True, "joserfc": True, "jwcrypto": True}


# --- the attack catalogue: refused by tokensmith, whatever the others do -------------------------


def _json(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def claims_of(alg: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer(alg), "aud": AUDIENCE, "sub": "user-1", "exp": now + 600, "iat": now}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def crafted(alg: str, header: Any = None, payload: Any = None, key: Any = None,
            sign_as: str | None = None) -> str:
    """A token for `alg`'s provider, signed (as `sign_as`, with `key`) over the given parts."""
    head = _json({"alg": alg, "kid": "k1"} if header is None else header)
    body = _json(claims_of(alg) if payload is None else payload)
    return sign(sign_as or alg, head, body, key)


def _flip_last(token: str) -> str:
    head, _, sig = token.rpartition(".")
    return f"{head}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"


def _attacks() -> dict[str, tuple[str, str]]:
    """Catalogue row and case -> (the algorithm whose provider is attacked, the token)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    rs_pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    good_es = crafted("ES256")
    r, s = (int.from_bytes(b, "big") for b in
            (base64.urlsafe_b64decode(good_es.split(".")[2] + "==")[:32],
             base64.urlsafe_b64decode(good_es.split(".")[2] + "==")[32:]))
    der = b64(encode_dss_signature(r, s))
    attacker_jwk = json.loads(jwt.get_algorithm_by_name("RS256").to_jwk(OTHER_RSA_KEY.public_key()))
    hs = crafted("HS256")
    five = hs + ".x.y"
    own = sign("HS256", _json({"alg": "HS256"}), _json(claims_of(
        "HS256", iss="https://tokens.example.com/", aud="svc")),
        b"differential-signing-secret-0123456789-abc")
    return {
        "A01 alg none": ("HS256", b64(b'{"alg":"none"}') + "." + b64(_json(claims_of("HS256")))
                         + "."),
        "A02 alg in lower case": ("RS256", crafted("RS256", {"alg": "rs256", "kid": "k1"},
                                                   sign_as="RS256")),
        "A03 PS256 with the key of an RS256 provider": ("RS256", crafted(
            "RS256", {"alg": "PS256", "kid": "k1"}, sign_as="PS256")),
        "A04 HS256 keyed with the RSA public key": ("RS256", crafted(
            "RS256", {"alg": "HS256", "kid": "k1"}, key=rs_pem, sign_as="HS256")),
        "A06 embedded jwk of the attacker": ("RS256", crafted(
            "RS256", {"alg": "RS256", "jwk": attacker_jwk}, key=OTHER_RSA_KEY)),
        "A07 jku, real signature": ("RS256", crafted(
            "RS256", {"alg": "RS256", "kid": "k1", "jku": "https://attacker.example/k"})),
        "A08 kid path with an empty HMAC key": ("HS256", crafted(
            "HS256", {"alg": "HS256", "kid": "../../../../dev/null"}, key=b"")),
        "A09 psychic ES256 signature": ("ES256", good_es.rsplit(".", 1)[0] + "." + "A" * 86),
        "A10 ES256 signature in DER": ("ES256", good_es.rsplit(".", 1)[0] + "." + der),
        "A13 flipped signature": ("EdDSA", _flip_last(crafted("EdDSA"))),
        "A13 stripped signature": ("ES384", crafted("ES384").rsplit(".", 1)[0] + "."),
        "A13 truncated signature": ("PS512", crafted("PS512")[:-8]),
        "A14 crit, real signature": ("RS384", crafted(
            "RS384", {"alg": "RS384", "kid": "k1", "crit": ["exp2"], "exp2": 1})),
        "A15 b64 false": ("HS384", crafted(
            "HS384", {"alg": "HS384", "kid": "k1", "b64": False, "crit": ["b64"]})),
        "A16 duplicate alg": ("HS512", crafted(
            "HS512", b'{"alg":"none","alg":"HS512","kid":"k1"}')),
        "A17 nested cty JWT": ("ES512", crafted("ES512", {"alg": "ES512", "kid": "k1",
                                                           "cty": "JWT"})),
        "A18 five segments": ("HS256", five),
        "A19 padded signature": ("HS256", hs + "="),
        "A20 BOM before the header": ("HS256", crafted(
            "HS256", b"\xef\xbb\xbf" + _json({"alg": "HS256", "kid": "k1"}))),
        "A20 payload is an array": ("HS256", crafted("HS256", payload=b"[1]")),
        "A21 a token tokensmith issued, posted back": ("HS256", own),
        "B01 expired beyond the leeway": ("RS512", crafted("RS512", payload=claims_of(
            "RS512", exp=int(time.time()) - LEEWAY - 5))),
        "B02 no exp": ("PS256", crafted("PS256", payload=claims_of("PS256", exp=None))),
        "B04 nbf in the future": ("PS384", crafted("PS384", payload=claims_of(
            "PS384", nbf=int(time.time()) + 600))),
        "B04 iat in the future": ("ES256", crafted("ES256", payload=claims_of(
            "ES256", iat=int(time.time()) + 600))),
        "B05 exp as a string": ("HS256", crafted("HS256", payload=claims_of(
            "HS256", exp=str(int(time.time()) + 600)))),
        "B05 exp true": ("HS256", crafted("HS256", payload=claims_of("HS256", exp=True))),
        "B05 exp 1e999": ("HS256", crafted("HS256", payload=b'{"iss":"https://hs256.idp.'
                                           b'example/","aud":"svc-aud","sub":"u","exp":1e999}')),
        "B07 no iss": ("EdDSA", crafted("EdDSA", payload=claims_of("EdDSA", iss=None))),
        "B08 iss in upper case": ("EdDSA", crafted("EdDSA", payload=claims_of(
            "EdDSA", iss=issuer("EdDSA").upper()))),
        "B09 iss as a list": ("RS256", crafted("RS256", payload=claims_of(
            "RS256", iss=[issuer("RS256")]))),
        "B10 another audience": ("RS256", crafted("RS256", payload=claims_of(
            "RS256", aud="other-svc"))),
        "B12 audience as a number": ("RS256", crafted("RS256", payload=claims_of(
            "RS256", aud=123))),
        "B15 empty sub": ("HS256", crafted("HS256", payload=claims_of("HS256", sub=""))),
        "B16 duplicate sub": ("HS256", crafted("HS256", payload=(
            b'{"iss":"https://hs256.idp.example/","aud":"svc-aud","sub":"alice","sub":"admin",'
            b'"exp":%d}' % (int(time.time()) + 600)))),
        "B17 deep nesting": ("HS256", crafted("HS256", payload=(
            b'{"iss":"https://hs256.idp.example/","aud":"svc-aud","sub":"u","exp":%d,"a":'
            % (int(time.time()) + 600) + b"[" * 40 + b"]" * 40 + b"}"))),
        "B23 signed by another provider's key": ("RS256", crafted("RS256", key=OTHER_RSA_KEY)),
        "B25 no identity provider matches": ("HS256", crafted("HS256", payload=claims_of(
            "HS256", iss="https://unknown.example/"))),
    }


@functools.lru_cache(maxsize=1)
def _attacks_of_minute(minute: int) -> dict[str, tuple[str, str]]:
    return _attacks()


def attacks() -> dict[str, tuple[str, str]]:
    """The attack tokens, made within the last minute. They carry times relative to when they
    were made (`exp`, `nbf` and `iat` ten minutes ahead), so tokens made when the tests were
    collected would no longer be what they claim in a long test run."""
    return _attacks_of_minute(int(time.time()) // 60)


@pytest.mark.parametrize("name", sorted(_attacks()))
def test_every_catalogue_attack_is_refused_by_tokensmith(state: Any, name: str) -> None:
    _alg, token = attacks()[name]
    assert not tokensmith_accepts(state, token, time.time())


def test_the_libraries_verdicts_on_the_attacks_are_as_recorded() -> None:
    """What the others do with the attacks: documentation, kept honest by a comparison.

    The attacks a library accepts are listed, so that a change of its verdict is noticed (and
    this list updated, never the attack dropped). joserfc and jwcrypto are pinned for this;
    PyJWT, a dependency of the runtime with a lower bound only, is compared on the version its
    verdicts were observed with.
    """
    compared = {"joserfc", "jwcrypto"} | ({"PyJWT"} if jwt.__version__ == OBSERVED_PYJWT else set())
    accepted = {}
    for name, (alg, token) in attacks().items():
        libs = sorted(lib for lib, ok in verdicts(token, alg).items() if ok and lib in compared)
        if libs:
            accepted[name] = libs
    expected = {name: [lib for lib in libs if lib in compared]
                for name, libs in ACCEPTED_BY_OTHERS.items()}
    assert accepted == {name: libs for name, libs in expected.items() if libs}


OBSERVED_PYJWT = "2.15.1"
#: Observed with PyJWT 2.15.1, joserfc 1.8.0 (unknown header members ignored, as RFC 7515 has
#: it) and jwcrypto 1.6.1 (`check_claims` exp, iss, aud); every other attack all three refuse.
ACCEPTED_BY_OTHERS: dict[str, list[str]] = {
    "A07 jku, real signature": ["PyJWT", "joserfc", "jwcrypto"],
    "A16 duplicate alg": ["PyJWT", "joserfc", "jwcrypto"],
    "A17 nested cty JWT": ["PyJWT", "joserfc", "jwcrypto"],
    "A19 padded signature": ["PyJWT", "jwcrypto"],
    "A20 BOM before the header": ["PyJWT", "joserfc"],
    "B04 iat in the future": ["jwcrypto"],
    "B04 nbf in the future": ["jwcrypto"],
    "B05 exp as a string": ["PyJWT"],
    "B15 empty sub": ["PyJWT", "joserfc", "jwcrypto"],
    "B16 duplicate sub": ["PyJWT", "joserfc", "jwcrypto"],
    "B17 deep nesting": ["PyJWT", "joserfc", "jwcrypto"],
}
