"""Shadow revisions in process: preparing the candidate, its decisions, counting, the queue, logs.

The candidate runs the live `exchange()` on its own state; these tests build live and candidate
bundles that differ in one way and check what is counted. Through a real server:
`test_shadow_http.py` and `tests/cli/test_serve_shadow.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tokensmith.runtime.errors import InvalidRequest, StartupError
from tokensmith.runtime.exchange import ExchangeRequest, Issued, exchange
from tokensmith.runtime.jti import new_jti
from tokensmith.runtime.shadow import Attempt, Shadow
from tokensmith.runtime.shadow_candidate import (
    CLAIMS_CHANGED,
    SAME,
    UNKNOWN,
    WOULD_BREAK,
    WOULD_OPEN,
    Decision,
    changed_claims,
    compare,
)
from tokensmith.runtime.startup import Runtime, ShadowOptions, prepare
from tokensmith.runtime.static_keys import StaticKeySource

from ..support.http_server import MARKER, World, idp, write_bundle
from ..support.shadow_bundles import (
    PARTNER_ISSUER,
    RAISING,
    SUB_ONLY,
    candidate_config,
    live_attempt,
    write_with_mappings,
)


def shadowed(
    world: World, tmp_path: Path, candidate: dict[str, Any], env: dict[str, str] | None = None
) -> Runtime:
    live = write_bundle(tmp_path / "live", world.config)
    cand = write_bundle(tmp_path / "candidate", candidate)
    return prepare(str(live), env or world.env, shadow=ShadowOptions(str(cand), 1.0))


def shadow_of(runtime: Runtime) -> Shadow:
    assert runtime.shadow is not None
    return runtime.shadow


def issued(claims: dict[str, Any]) -> Decision:
    """An issued decision without a payload: `compare` goes the long way."""
    return Issued("", 60, "quickstart", "my-service", claims)


def refused(reason: str) -> Decision:
    return InvalidRequest("token refused", reason)


# -- comparing two outcomes --------------------------------------------------------------------

def test_compare_names_each_result() -> None:
    base = {"iss": "i", "aud": "a", "iat": 1, "exp": 2, "jti": "x", "act": {"sub": "u"}}
    volatile = {**base, "iat": 5, "exp": 9, "jti": "y"}
    assert compare(issued(base), issued(volatile)) == (SAME, ())
    assert compare(issued(base), refused("condition_failed")) == (WOULD_BREAK, ())
    assert compare(refused("untrusted_issuer"), issued(base)) == (WOULD_OPEN, ())
    assert compare(refused("bad_signature"), refused("condition_failed")) == (SAME, ())
    changed = {**base, "act": {"sub": "u", "email": "e"}}
    assert compare(issued(base), issued(changed)) == (CLAIMS_CHANGED, ("act.email",))
    # JSON-exact: `true` is not `1`; the order of members is no change
    flag = {**base, "act": {"sub": "u", "admin": True}}
    assert compare(issued(flag), issued({**flag, "act": {"sub": "u", "admin": 1}})) == (
        CLAIMS_CHANGED, ("act.admin",))
    assert compare(issued(flag), issued({**flag, "act": {"admin": True, "sub": "u"}})) == (
        SAME, ())
    # a side that could not decide (no keys yet, anything unexpected)
    assert compare(issued(base), None) == (UNKNOWN, ())
    assert compare(None, issued(base)) == (UNKNOWN, ())
    assert compare(refused("bad_signature"), None) == (UNKNOWN, ())
    assert compare(None, None) == (UNKNOWN, ())


def test_changed_claims_are_names_only_and_json_exact() -> None:
    live = {"act": {"sub": "u", "admin": True, "n": 1, "gone": "v"}, "aud": "a", "x": [1]}
    candidate = {"act": {"sub": "u", "admin": 1, "n": 1.0, "new": "w"}, "aud": "b", "x": [1]}
    # True and 1, 1 and 1.0 are equal in Python but not in the issued JSON
    assert changed_claims(live, candidate) == (
        "act.admin", "act.gone", "act.n", "act.new", "aud",
    )
    assert changed_claims({"act": {"sub": "u"}}, {"act": "flat"}) == ("act",)


# -- preparing the candidate -------------------------------------------------------------------

def test_a_secret_only_the_candidate_needs_refuses_start_up_naming_it(tmp_path: Path) -> None:
    world = World()
    with pytest.raises(StartupError) as caught:
        shadowed(world, tmp_path, candidate_config(world, "new_idp"))
    problems = caught.value.problems
    assert any(p.startswith("shadow candidate: ") and "PARTNER_SECRET" in p for p in problems)
    assert all(world.idp_secret not in p for p in problems)


def test_the_candidate_never_signs_and_keeps_the_live_signers(tmp_path: Path) -> None:
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "same"))
    candidate = shadow_of(runtime).candidate
    assert candidate.state.signers["sbk_test"].sign_payload(b"{}") == ""
    # the live runtime still signs
    assert runtime.state.signers["sbk_test"].sign_payload(b"{}").count(".") == 2


def test_identical_jwks_sources_are_shared_and_new_ones_fetched_apart(tmp_path: Path) -> None:
    world = World()
    url, other = "http://127.0.0.1:9/jwks", "http://127.0.0.1:9/other-jwks"
    live_config = candidate_config(world, "same")
    live_config["identity_providers"]["remote"] = idp(
        issuer="https://remote.example.com/", audience="r", algorithms=["RS256"], jwks_url=url)
    candidate = candidate_config(world, "same")
    # the same source under another name, and a provider whose URL is new
    candidate["identity_providers"]["renamed"] = idp(
        issuer="https://remote.example.com/", audience="r", algorithms=["RS256"], jwks_url=url)
    candidate["identity_providers"]["fresh"] = idp(
        issuer="https://fresh.example.com/", audience="f", algorithms=["RS256"], jwks_url=other)
    # the same URL with other algorithms filters the fetched set otherwise: not shared
    candidate["identity_providers"]["es_remote"] = idp(
        issuer="https://es.remote.example.com/", audience="e", algorithms=["ES256"], jwks_url=url)
    live = write_bundle(tmp_path / "live", live_config)
    cand = write_bundle(tmp_path / "candidate", candidate)
    runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(cand)))
    shadow = shadow_of(runtime)
    sources = shadow.candidate.state.key_sources
    assert sources["renamed"].source is runtime.state.key_sources["remote"]  # type: ignore[attr-defined]
    # static keys with the same secret reference or inline set are the live objects too
    assert sources["quickstart"].source is runtime.state.key_sources["quickstart"]  # type: ignore[attr-defined]
    assert dict(shadow.candidate.shared_keys) == {
        "es": "es", "quickstart": "quickstart", "renamed": "remote",
        "rsa": "rsa", "verified": "verified",
    }
    assert shadow.candidate.cache is not None
    assert sorted(shadow.candidate.cache.names) == ["es_remote", "fresh"]
    assert runtime.cache is not None and runtime.cache.names == ("remote",)


def test_a_token_the_live_side_verified_is_not_verified_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With shared keys the candidate trusts the live side's signature check of an issued
    token (the signature work is done once), and checks every other token itself."""
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "same"))
    shadow = shadow_of(runtime)
    token = world.es_token()
    issued = live_attempt(runtime, token)
    refused_live = live_attempt(runtime, token[:-4] + "AAAA")
    assert isinstance(issued.live, Issued) and isinstance(refused_live.live, Exception)
    calls: list[str] = []
    original = StaticKeySource.candidates

    def counting(self: StaticKeySource, kid: str | None, alg: str) -> Any:
        calls.append(alg)
        return original(self, kid, alg)

    monkeypatch.setattr(StaticKeySource, "candidates", counting)
    assert shadow.decide("req-00000001", issued) == SAME
    assert calls == []  # the candidate did not ask for keys: no second verification
    assert shadow.decide("req-00000002", refused_live) == SAME  # both refuse
    assert calls == ["ES256"]  # the candidate checked the signature the live side refused
    assert shadow.candidate.verified.source is None


# -- deciding and counting ---------------------------------------------------------------------

def test_each_change_is_counted_as_the_requests_imply(tmp_path: Path) -> None:
    world = World()
    cases = {
        "tightened": [
            (world.hs_token(email_verified=True), SAME),
            (world.hs_token(), WOULD_BREAK),
            (world.hs_token(exp=int(time.time()) - 3600), SAME),  # both refuse
        ],
        "aud": [
            (world.hs_token(), WOULD_BREAK),
            (world.hs_token(aud="another-audience"), WOULD_OPEN),
        ],
        "same": [(world.hs_token(), SAME), (world.rs_token(), SAME)],
    }
    for change, requests in cases.items():
        runtime = shadowed(world, tmp_path / change, candidate_config(world, change))
        shadow = shadow_of(runtime)
        for token, expected in requests:
            assert shadow.decide("req-00000001", live_attempt(runtime, token)) == expected, change
        assert sum(shadow.counts.values()) == len(requests)


def test_a_new_identity_provider_would_open(tmp_path: Path) -> None:
    world = World()
    env = {**world.env, "PARTNER_SECRET": "partner-" + world.idp_secret}
    runtime = shadowed(world, tmp_path, candidate_config(world, "new_idp"), env)
    claims = world.claims(iss=PARTNER_ISSUER, aud="partner-aud")
    token = jwt.encode(claims, env["PARTNER_SECRET"], "HS256")
    shadow = shadow_of(runtime)
    assert shadow.decide("req-00000001", live_attempt(runtime, token)) == WOULD_OPEN
    assert shadow.by_name == {(WOULD_OPEN, "my-service", "partner"): 1}


def test_a_raising_candidate_counts_unknown(tmp_path: Path) -> None:
    world = World()
    live = write_bundle(tmp_path / "live", world.config)
    cand = write_with_mappings(tmp_path / "candidate", world.config, RAISING)
    runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(cand)))
    shadow = shadow_of(runtime)
    assert shadow.decide("req-00000001", live_attempt(runtime, world.hs_token())) == UNKNOWN


def test_names_no_bundle_knows_are_not_labels(tmp_path: Path) -> None:
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "same"))
    shadow = shadow_of(runtime)
    for i in range(50):
        shadow.decide("req-00000001", live_attempt(runtime, world.hs_token(), f"svc-{i}"))
    assert set(shadow.by_name) == {(SAME, "", "")}
    text = runtime.metrics.render().decode()
    assert 'tokensmith_shadow_decisions_total{result="same"} 50.0' in text
    assert "svc-" not in text
    assert f'tokensmith_shadow_info{{revision="{shadow.revision}",sample="1.0"}} 1.0' in text


def test_a_divergence_logs_names_never_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    candidate = candidate_config(world, "same")
    live = write_bundle(tmp_path / "live", world.config)
    # a candidate that maps nothing: every claim of `act` changes
    cand = write_with_mappings(tmp_path / "candidate", candidate, SUB_ONLY)
    runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(cand)))
    token = world.hs_token(sub=f"user-{MARKER}", email=f"{MARKER}@example.com", role=MARKER)
    with caplog.at_level(logging.WARNING, logger="tokensmith.shadow"):
        result = shadow_of(runtime).decide("req-marked-1", live_attempt(runtime, token))
    assert result == CLAIMS_CHANGED
    [record] = [r for r in caplog.records if r.name == "tokensmith.shadow"]
    line = json.loads(record.getMessage())
    assert line == {
        "shadow": CLAIMS_CHANGED, "request_id": "req-marked-1", "service": "my-service",
        "identity_provider": "quickstart", "live": "issued", "candidate": "issued",
        "claims": ["act.email", "act.role"],
        "candidate_revision": shadow_of(runtime).revision,
    }
    assert MARKER not in caplog.text and token not in caplog.text


def test_divergence_lines_are_rate_limited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "tightened"))
    shadow = shadow_of(runtime)
    attempt = live_attempt(runtime, world.hs_token())
    with caplog.at_level(logging.WARNING, logger="tokensmith.shadow"):
        for _ in range(200):
            shadow.decide("req-00000001", attempt)
    assert shadow.counts[WOULD_BREAK] == 200
    lines = [r for r in caplog.records if r.name == "tokensmith.shadow"]
    assert 20 <= len(lines) <= 25  # the burst, and what refilled while the loop ran


# -- the queue: after the answer, bounded, shed when busy --------------------------------------

def test_the_queue_is_bounded_and_sheds_what_waited_too_long(tmp_path: Path) -> None:
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "same"))
    assert runtime.shadow is not None
    shadow = Shadow(runtime.shadow.candidate, 1.0, runtime.state,
                    max_pending=4, max_age=0.05)
    attempt = live_attempt(runtime, world.hs_token())

    async def burst() -> None:
        for _ in range(10):  # in one loop turn: nothing is decided yet
            shadow.submit("req-00000001", attempt)
        assert shadow.counts == {**dict.fromkeys(shadow.counts, 0), "dropped": 6}
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert shadow.counts["same"] == 4
        shadow.submit("req-00000002", attempt)
        time.sleep(0.1)  # the loop is busy for longer than the queue's bound
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(burst())
    assert shadow.counts["same"] == 4 and shadow.counts["dropped"] == 7


def test_sampling_decides_the_share_asked_for(tmp_path: Path) -> None:
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "same"))
    candidate = shadow_of(runtime).candidate
    config = runtime.state
    assert not any(Shadow(candidate, 0.0, config).sampled() for _ in range(1000))
    assert all(Shadow(candidate, 1.0, config).sampled() for _ in range(1000))
    share = sum(Shadow(candidate, 0.1, config).sampled() for _ in range(20_000)) / 20_000
    assert 0.08 < share < 0.12


def test_the_candidate_decides_at_the_live_now(tmp_path: Path) -> None:
    """A token valid at the live decision's `now` but expired by the wall clock: the candidate,
    deciding at the noted `now`, agrees with the live side (with a clock of its own it would
    refuse, a false `would_break`)."""
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "same"))
    decided_at = time.time() - 600
    token = world.hs_token(iat=int(decided_at) - 10, exp=int(decided_at) + 300)
    attempt = Attempt(ExchangeRequest(token, "my-service"))
    attempt.now = decided_at
    attempt.live = exchange(runtime.state, attempt.request, decided_at, new_jti)
    assert shadow_of(runtime).decide("req-00000001", attempt) == SAME


def test_names_are_labels_only_once_a_signature_verified(tmp_path: Path) -> None:
    world = World()
    runtime = shadowed(world, tmp_path, candidate_config(world, "tightened"))
    shadow = shadow_of(runtime)
    now = int(time.time())
    shadow.decide("req-00000001", live_attempt(runtime, world.hs_token()))  # would_break
    shadow.decide("req-00000002", live_attempt(runtime, world.hs_token(exp=now - 3600)))
    shadow.decide("req-00000003", live_attempt(runtime, world.hs_token()[:-4] + "AAAA"))
    assert shadow.by_name == {
        (WOULD_BREAK, "my-service", "quickstart"): 1,
        (SAME, "my-service", "quickstart"): 1,  # expired: refused after the signature step
        (SAME, "", ""): 1,  # a bad signature: nothing verified, nothing named
    }
