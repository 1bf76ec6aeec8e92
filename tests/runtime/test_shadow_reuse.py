"""The candidate reuses the live side's parse of the subject token: same decisions, less work.

A sampled live exchange notes its envelope step's parse (`Attempt.parse`); the candidate's
envelope step gives it back instead of parsing the same text again. These tests decide the same
attempts both ways, with the live parse and with none (the candidate parsing for itself, as
before), and require the same outcome and the same comparison result every time, for tokens
that pass and tokens refused at each step, across candidates that differ in several ways.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tokensmith.runtime import shadow_candidate
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import Issued, exchange
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.jti import new_jti
from tokensmith.runtime.shadow import Attempt, Shadow
from tokensmith.runtime.shadow_candidate import (
    Decision,
    compare,
    decide,
    identity_provider_of,
    live_decision,
)
from tokensmith.runtime.startup import ShadowOptions, prepare

from ..support.http_server import World, write_bundle
from ..support.shadow_bundles import PARTNER_ISSUER, candidate_config, live_attempt


def requests(world: World, env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Subject tokens (and services) refused at each step, and ones that are issued."""
    hs = world.hs_token()
    partner = world.claims(iss=PARTNER_ISSUER, aud="partner-aud")
    return {
        "partner": (jwt.encode(partner, env["PARTNER_SECRET"], "HS256"), "my-service"),
        "issued-hs": (hs, "my-service"),
        "issued-verified-email": (world.hs_token(email_verified=True), "my-service"),
        "issued-rs": (world.rs_token(), "my-service"),
        "issued-es": (world.es_token(), "my-service"),
        "unknown-service": (hs, "no-such-service"),
        "malformed": ("not-a-jwt", "my-service"),
        "jwe": ("a.b.c.d.e", "my-service"),
        "bad-signature": (hs[:-4] + "AAAA", "my-service"),
        "unknown-issuer": (world.hs_token(iss="https://nobody.example.com/"), "my-service"),
        "other-audience": (world.hs_token(aud="another-audience"), "my-service"),
        "expired": (world.hs_token(exp=int(time.time()) - 3600), "my-service"),
        "alg-none": ("eyJhbGciOiJub25lIn0." + hs.split(".")[1] + ".", "my-service"),
    }


@pytest.mark.parametrize("change", ["same", "tightened", "aud", "new_idp"])
def test_the_reused_parse_decides_and_compares_as_the_full_path(
    tmp_path: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World()
    env = {**world.env, "PARTNER_SECRET": "partner-" + world.idp_secret}
    live_bundle = write_bundle(tmp_path / "live", world.config)
    cand = write_bundle(tmp_path / "candidate", candidate_config(world, change))
    runtime = prepare(str(live_bundle), env, shadow=ShadowOptions(str(cand), 1.0))
    shadow = runtime.shadow
    assert isinstance(shadow, Shadow)
    parses: list[str] = []

    def counting(token: str, max_length: int) -> Any:
        parses.append(token)
        return parse_compact(token, max_length)

    monkeypatch.setattr(shadow_candidate, "parse_compact", counting)
    results = set()
    for name, (token, service) in requests(world, env).items():
        attempt = live_attempt(runtime, token, service)
        assert attempt.live is not None
        live = live_decision(attempt.live)
        parsed_live = attempt.jws is not None
        state = shadow.candidate.state
        del parses[:]
        reused = decide_as_shadow(shadow, attempt, with_parse=True)
        # a token the live side parsed is not parsed again; one it could not parse is, by the
        # candidate's own envelope step (which refuses it the same way)
        assert parses == ([] if parsed_live or service != "my-service" else [token]), name
        del parses[:]
        full = decide_as_shadow(shadow, attempt, with_parse=False)
        assert parses == ([token] if service == "my-service" else []), name
        assert described(reused) == described(full), name
        assert compare(live, reused) == compare(live, full), name
        # and the shadow itself (which hands the candidate the live parse) counts the same
        del parses[:]
        assert shadow.decide("req-00000001", attempt) == compare(live, full)[0], name
        assert parses == ([] if parsed_live or service != "my-service" else [token]), name
        if parsed_live:
            assert attempt.jws == parse_compact(token, len(token))
        results.add(compare(live, reused)[0])
        assert state is shadow.candidate.state
    # the requests are not all `same`: the comparison was exercised for real
    if change != "same":
        assert len(results) > 1


def described(decision: Decision) -> tuple[Any, ...]:
    """What a decision says, as a value: issued (the claims, the payload), refused (the
    class, the reason and the verifying provider) or undecided."""
    if isinstance(decision, Issued):
        return ("issued", decision.identity_provider, dict(decision.claims),
                decision.comparable_payload)
    if isinstance(decision, ExchangeError):
        return (type(decision), decision.reason, decision.verified_by)
    return ("undecided",)


def decide_as_shadow(shadow: Shadow, attempt: Attempt, *, with_parse: bool) -> Decision:
    """The candidate's decision of `attempt` as `Shadow.decide` computes it, with the live
    side's parse (and signature check) or parsing the token itself."""
    assert attempt.live is not None
    live = live_decision(attempt.live)
    verified = shadow.candidate.verified
    provider = identity_provider_of(live)
    if provider is not None:
        verified.source = shadow.live_sources.get(provider)
    try:
        return decide(shadow.candidate.state, attempt.request, attempt.now,
                      attempt.jws if with_parse else None)
    finally:
        verified.source = None


def test_a_sampled_live_exchange_notes_its_parse_and_answers_the_same(tmp_path: Path) -> None:
    """The live side with a noting parse answers as without it (claims but `jti`, provider)."""
    world = World()
    live = write_bundle(tmp_path / "live", world.config)
    runtime = prepare(str(live), world.env)
    token = world.hs_token()
    attempt = live_attempt(runtime, token)
    assert isinstance(attempt.live, Issued)
    assert attempt.jws is not None and attempt.jws.claims["sub"] == "user-1"
    again = exchange(runtime.state, attempt.request, attempt.now, new_jti)
    assert again.identity_provider == attempt.live.identity_provider
    assert {k: v for k, v in again.claims.items() if k != "jti"} == {
        k: v for k, v in attempt.live.claims.items() if k != "jti"}
    refused = live_attempt(runtime, "not-a-jwt")
    assert refused.jws is None and isinstance(refused.live, Exception)
