"""The exchange end to end, without HTTP: what is issued, and every refusal after the signature."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import jwt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from tokensmith.runtime.errors import (
    ExchangeError,
    InvalidRequest,
    InvalidTarget,
    KeysNotReady,
    StartupError,
    UnknownKeyId,
)
from tokensmith.runtime.exchange import decide
from tokensmith.runtime.issuing import MAX_ISSUED_CLAIMS_BYTES, issue_claims
from tokensmith.runtime.keys import VerificationKey
from tokensmith.runtime.model import IdentityProviderSpec
from tokensmith.runtime.secrets import resolve_all
from tokensmith.runtime.state import build_state

from ..support.exchange_world import (
    AUD_A_SECRET,
    AUTH0,
    AUTH0_AUD,
    DROP,
    EC_ISS,
    ED_ISS,
    ENV,
    ES_SIGNING_KEY,
    GITHUB,
    GITHUB_KEY,
    NOW,
    SB_SECRET,
    SUPABASE,
    SUPABASE_SECRET,
    assert_safe,
    auth0_claims,
    bundle,
    claims_for,
    decoded,
    eddsa,
    es256,
    hs256,
    refused,
    resign_hs256,
    rs256,
    run,
    state,
)


def test_issued_hs256_token_verifies_with_state_backeds_convention() -> None:
    issued = run(rs256(auth0_claims()))
    header, _ = decoded(issued.access_token)
    assert header == {"alg": "HS256", "kid": "sbk_main", "typ": "JWT"}
    # @statebacked/token: HMAC key = UTF-8 bytes of the whole `sbsec_` secret; user claims in `act`
    claims = jwt.decode(
        issued.access_token,
        SB_SECRET.encode("utf-8"),
        algorithms=["HS256"],
        audience="https://api.example.com/",
        issuer="https://tokens.example.com/",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {
        "iss": "https://tokens.example.com/",
        "aud": "https://api.example.com/",
        "iat": int(NOW),
        "exp": int(NOW) + 600,
        "jti": "jti-0001",
        "act": {
            "sub": "user-1",
            "email": "a@b.c",
            "via": "auth0",
            "service": "my-service",
            "exp": int(NOW) + 600,
            "aud": AUTH0_AUD,
            "iss": AUTH0,
        },
    }
    assert issued.expires_in == 600
    assert (issued.identity_provider, issued.service) == ("auth0", "my-service")
    assert dict(issued.claims) == claims


@pytest.mark.parametrize(
    ("token", "provider"),
    [
        (lambda: rs256(auth0_claims()), "auth0"),
        (lambda: hs256(claims_for(SUPABASE, "authenticated"), kid="any-kid"), "supabase"),
        (lambda: hs256(claims_for(SUPABASE, "authenticated")), "supabase"),
        (lambda: rs256(claims_for(GITHUB, "whatever"), kid="gh1", key=GITHUB_KEY), "github"),
        (lambda: es256(claims_for(EC_ISS, "svc", tier="gold")), "ecidp"),
        (lambda: eddsa(claims_for(ED_ISS, "svc")), "edidp"),
        (lambda: hs256(claims_for(None, "svc-a", sub=DROP), AUD_A_SECRET), "aud-a"),
    ],
)
def test_every_key_family_and_kind_of_provider_is_exchanged(token: Any, provider: str) -> None:
    issued = run(token())
    assert issued.identity_provider == provider
    assert issued.claims["act"]["via"] == provider


def test_root_claims_keep_registered_claims_from_the_config() -> None:  # B20
    issued = run(rs256(auth0_claims(jti="attacker", nbf=int(NOW) - 5)), service="es-service")
    public = ECAlgorithm.from_jwk(ECAlgorithm.to_jwk(ES_SIGNING_KEY.public_key()))
    claims = jwt.decode(
        issued.access_token,
        public,  # type: ignore[arg-type]
        algorithms=["ES256"],
        audience="es-service",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == "https://tokens.example.com/"
    assert claims["aud"] == "es-service"
    assert (claims["iat"], claims["exp"]) == (int(NOW), int(NOW) + 600)
    assert claims["jti"] == "jti-0001"
    assert "nbf" not in claims and "act" not in claims
    assert (claims["sub"], claims["via"]) == ("user-1", "auth0")
    assert decoded(issued.access_token)[0] == {"alg": "ES256", "kid": "es_main", "typ": "JWT"}


def test_issued_exp_is_capped_at_the_subject_tokens_exp() -> None:
    issued = run(rs256(auth0_claims(exp=int(NOW) + 90)))
    assert (issued.claims["exp"], issued.expires_in) == (int(NOW) + 90, 90)


def test_a_fractional_subject_exp_caps_at_its_floor_as_an_integer() -> None:
    issued = run(rs256(auth0_claims(exp=int(NOW) + 90.7)))
    assert (issued.claims["exp"], issued.expires_in) == (int(NOW) + 90, 90)
    assert type(issued.claims["exp"]) is int


def test_a_far_future_subject_exp_gives_the_configured_lifetime() -> None:  # B03
    issued = run(rs256(auth0_claims(exp=10**30)))
    assert (issued.claims["exp"], issued.expires_in) == (int(NOW) + 3600, 3600)


def test_outlive_subject_token_uses_the_configured_lifetime() -> None:
    issued = run(rs256(auth0_claims(exp=int(NOW) + 90)), service="long-lived")
    assert (issued.claims["exp"], issued.expires_in) == (int(NOW) + 86400, 86400)


def test_a_token_dead_on_arrival_is_never_issued() -> None:  # B01 inside the leeway
    token = rs256(auth0_claims(exp=int(NOW) - 30))  # within auth0's 60 s leeway
    refused(token, "expired")
    # ...unless the service may outlive the subject token
    assert run(token, service="long-lived").expires_in == 86400


def test_fractional_now_is_floored() -> None:
    issued = run(rs256(auth0_claims()), now=NOW + 0.75)
    assert issued.claims["iat"] == int(NOW)


def test_unknown_service_is_refused_before_the_token_is_read() -> None:
    err = refused("not even a token", "unknown_service", error="invalid_target", service="nope")
    assert type(err) is InvalidTarget


def test_service_that_does_not_accept_the_provider() -> None:
    token = rs256(claims_for(GITHUB, "x"), kid="gh1", key=GITHUB_KEY)
    err = refused(token, "idp_not_allowed", error="invalid_target", service="es-service")
    assert type(err) is InvalidTarget


@pytest.mark.parametrize(
    "claims",
    [
        auth0_claims(email_verified=False),
        auth0_claims(email_verified=DROP),
        auth0_claims(email_verified="true"),
    ],
)
def test_require_conditions(claims: dict[str, Any]) -> None:
    refused(rs256(claims), "condition_failed")


def test_requirement_must_return_true_itself() -> None:
    refused(eddsa(claims_for(ED_ISS, "svc", one=True)), "condition_failed")


def test_a_requirement_that_raises_refuses() -> None:
    err = refused(es256(claims_for(EC_ISS, "svc")), "mapping_error")
    assert err.description == "token does not meet the identity provider's conditions"


@pytest.mark.parametrize("service", ["broken", "not-a-dict"])
def test_a_mapping_that_fails_refuses(service: str) -> None:
    refused(rs256(auth0_claims()), "mapping_error", service=service)


def test_issued_claims_are_capped() -> None:  # B22
    refused(rs256(auth0_claims(blob="x" * 1100)), "claims_too_large", service="greedy")
    assert (
        run(rs256(auth0_claims(blob="x" * 900)), service="greedy").claims["act"]["copy7"]
        == "x" * 900
    )


def test_control_characters_stay_valid_json() -> None:  # B22
    odd = "a\u0000b\u202ec\u0007\ufeff\n\"'"
    issued = run(rs256(auth0_claims(name=odd)))
    assert decoded(issued.access_token)[1]["act"]["name"] == odd


def spec_tp(**overrides: Any) -> Any:
    return dataclasses.replace(state().bundle.config.token_providers["my-service"], **overrides)


@pytest.mark.parametrize("bad", [math.nan, math.inf, {1, 2}, object(), "\ud800"])
def test_issued_claims_that_are_not_json_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        issue_claims(spec_tp(), {"x": bad}, NOW + 60, NOW, "j")
    assert info.value.reason == "claims_invalid"
    assert_safe(info.value.description)


def test_issued_claims_size_limit_is_in_utf8_bytes() -> None:
    base = len(str(issue_claims(spec_tp(), {}, NOW + 60, NOW, "j")[0]))
    assert base < 200
    with pytest.raises(InvalidRequest) as info:
        issue_claims(
            spec_tp(), {"x": "\u00e9" * (MAX_ISSUED_CLAIMS_BYTES // 2)}, NOW + 60, NOW, "j"
        )
    assert info.value.reason == "claims_too_large"


class RemoteStub:
    """A remote key source that has not learnt a kid yet, or has no keys at all."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def candidates(self, kid: str | None, alg: str) -> Sequence[VerificationKey]:
        raise self.error

    def signature_failed(self, kid: str) -> None:
        raise AssertionError("not reached: candidates raised")


@pytest.mark.parametrize("error", [UnknownKeyId("auth0"), KeysNotReady("auth0")])
def test_key_source_signals_reach_the_http_layer(error: Exception) -> None:
    st = state()
    st = dataclasses.replace(st, key_sources={**st.key_sources, "auth0": RemoteStub(error)})
    with pytest.raises(type(error)) as info:
        run(rs256(auth0_claims()), st=st)
    assert info.value.identity_provider == "auth0"  # type: ignore[attr-defined]


def test_decide_runs_the_same_steps_without_the_signature() -> None:
    claims = auth0_claims()
    issued = run(rs256(claims))
    st = state()
    decision = decide(st.bundle, st.index, claims, "my-service", NOW, lambda: "jti-0001")
    assert dict(decision.claims) == dict(issued.claims)
    assert decision.identity_provider == "auth0"
    assert decision.signing_key == "sbk_main"
    assert decision.intermediate["via"] == "auth0"
    with pytest.raises(InvalidRequest) as info:
        decide(st.bundle, st.index, auth0_claims(email_verified=False), "my-service", NOW, str)
    assert info.value.reason == "condition_failed"


def test_state_needs_a_source_for_every_remote_provider() -> None:
    b = bundle()
    remote = dataclasses.replace(
        b.config.identity_providers["auth0"], jwks=None, jwks_url="https://x.example/jwks"
    )
    idps: dict[str, IdentityProviderSpec] = {**b.config.identity_providers, "auth0": remote}
    b = dataclasses.replace(b, config=dataclasses.replace(b.config, identity_providers=idps))
    resolved = resolve_all(b.config, ENV)
    with pytest.raises(StartupError) as info:
        build_state(b, resolved, {})
    assert info.value.problems == ["identity_providers.auth0: no keys to verify its tokens with"]
    st = build_state(b, resolved, {"auth0": RemoteStub(KeysNotReady("auth0"))})
    with pytest.raises(KeysNotReady):
        run(rs256(auth0_claims()), st=st)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
claim_values = {
    "iss": st.sampled_from([SUPABASE, AUTH0, "", 7]) | json_values,
    "aud": st.sampled_from(["authenticated", ["authenticated", "x"], [], AUTH0_AUD]) | json_values,
    "exp": st.sampled_from([int(NOW) + 60, int(NOW) - 60, 10**30, -1]) | json_values,
    "nbf": json_values,
    "iat": json_values,
    "sub": st.sampled_from(["u1", ""]) | json_values,
    "email_verified": json_values,
}


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@example(claims={"iss": SUPABASE, "aud": "authenticated", "exp": int(NOW) + 60}, extra="\u0000")
@given(claims=st.fixed_dictionaries({}, optional=claim_values), extra=json_values)
def test_any_validly_signed_claims_give_a_token_or_an_exchange_error(
    claims: dict[str, Any], extra: Any
) -> None:
    """D09 at the exchange: whatever a trusted signer put in the claims, never another exception."""
    payload = dict(claims, extra=extra)
    token = resign_hs256('{"alg":"HS256"}', json.dumps(payload), SUPABASE_SECRET)
    try:
        issued = run(token)
    except ExchangeError as err:
        assert_safe(err.description, token)
        return
    assert issued.identity_provider == "supabase"
    assert issued.claims["exp"] > issued.claims["iat"]
