"""The shadow's cheaper paths decide and count exactly as the long ones.

- `compare` first compares the two sides' payloads (the compact JSON of the issued claims, kept
  when orjson wrote them without an error; the candidate decides with the live token's `jti`
  at the live `now`, so claims it leaves alone have the live payload): that must give the
  result the blanked comparison and `changed_claims` give, for any claims, odd Python types
  included.
- A candidate provider whose keys differ from the live one's (another secret, other
  algorithms) shares nothing: the candidate checks the signature itself, and the decision
  shows it.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime import shadow as shadow_module
from tokensmith.runtime.compact_json import written_compact_json
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import Issued
from tokensmith.runtime.jti import JTI_LENGTH
from tokensmith.runtime.shadow import Shadow
from tokensmith.runtime.shadow_candidate import (
    CLAIMS_CHANGED,
    PLACEHOLDER_JTI,
    SAME,
    WOULD_BREAK,
    WOULD_OPEN,
    Decision,
    _stable_json,
    changed_claims,
    compare,
    decide,
)
from tokensmith.runtime.startup import Runtime, ShadowOptions, prepare
from tokensmith.runtime.static_keys import StaticKeySource

from ..support.http_server import World, write_bundle
from ..support.shadow_bundles import candidate_config, live_attempt


def blanked_compare(live: dict[str, Any], candidate: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """`compare` of two issued claim sets as it was before the whole-claims shortcut."""
    same = _stable_json(live)
    if same is not None and same == _stable_json(candidate):
        return SAME, ()
    changed = changed_claims(live, candidate)
    return (CLAIMS_CHANGED if changed else SAME), changed


def issued(claims: dict[str, Any]) -> Issued:
    """An issued decision with the payload the exchange would give it."""
    payload, orjson_wrote = written_compact_json(claims)
    return Issued("", 60, "p", "svc", claims, payload if orjson_wrote else b"")


class _Str(str):
    pass


class _Int(int):
    pass


_SCALARS = st.one_of(
    st.sampled_from(["a", "b", "", "ü", _Str("a")]),
    st.sampled_from([0, 1, -1, 2**70, _Int(1)]),
    st.sampled_from([True, False, None, 1.0, 0.5, -0.0, 0.0]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
        st.dictionaries(st.sampled_from([1, "1", True]), inner, max_size=2),
    ),
    max_leaves=6,
)
def _retyped(value: Any) -> Any:
    """`value` with each member that Python finds equal to another type swapped for it (`True`
    and `1`, `1` and `1.0`, lists and tuples, `str` and a subclass): equal in Python, not
    always in JSON."""
    if isinstance(value, dict):
        return {k: _retyped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_retyped(v) for v in value]
        return tuple(items) if isinstance(value, list) else items
    if value is True:
        return 1
    if type(value) is int:
        return float(value) if abs(value) < 2**53 else _Int(value)
    if type(value) is str:
        return _Str(value)
    return value


_VOLATILE = st.sampled_from([(1, 10, "j"), (1, 11, "j"), (2, 10, "k")])


@settings(max_examples=400)
@given(
    act=st.dictionaries(st.sampled_from(["sub", "email", "role"]), _VALUES, max_size=3),
    other=st.dictionaries(st.sampled_from(["sub", "email", "role"]), _VALUES, max_size=3),
    change=st.sampled_from(["none", "act", "other_member", "retyped"]),
    volatile=st.tuples(_VOLATILE, _VOLATILE),
)
def test_compare_gives_what_the_blanked_comparison_gives(
    act: dict[str, Any], other: dict[str, Any], change: str,
    volatile: tuple[tuple[int, int, str], tuple[int, int, str]],
) -> None:
    def claims(mapped: dict[str, Any], iat: int, exp: int, jti: str) -> dict[str, Any]:
        return {"iss": "https://i/", "aud": "svc", "iat": iat, "exp": exp, "jti": jti,
                "act": mapped}

    live = claims(act, *volatile[0])
    if change == "none":
        candidate = claims(dict(act), *volatile[1])
    elif change == "act":
        candidate = claims(other, *volatile[1])
    elif change == "retyped":
        candidate = claims(_retyped(act), *volatile[1])
    else:
        candidate = claims({**act, **other}, *volatile[1])
    try:
        live_outcome, candidate_outcome = issued(live), issued(candidate)
    except (TypeError, ValueError):
        return  # claims the exchange refuses to issue (`claims_invalid`)
    assert compare(live_outcome, candidate_outcome) == blanked_compare(live, candidate)


def test_compare_tells_the_same_json_from_equal_in_python() -> None:
    live = {"iat": 1, "exp": 2, "jti": "j", "act": {"admin": True, "n": 1}}
    for candidate_act, expected in (
        ({"admin": True, "n": 1}, (SAME, ())),
        ({"admin": 1, "n": 1}, (CLAIMS_CHANGED, ("act.admin",))),  # `True == 1` in Python
        ({"admin": True, "n": 1.0}, (CLAIMS_CHANGED, ("act.n",))),
        ({"n": 1, "admin": True}, (SAME, ())),  # member order is not a change
    ):
        candidate = {**live, "exp": 3, "act": candidate_act}
        assert compare(issued(live), issued(candidate)) == expected, candidate_act
        candidate["exp"] = live["exp"]  # the same lifetime: the payloads are compared
        assert compare(issued(live), issued(candidate)) == expected, candidate_act


# -- the candidate's jti -----------------------------------------------------------------------

def _shadowed(world: World, tmp_path: Path, candidate: dict[str, Any],
              env: dict[str, str] | None = None) -> tuple[Runtime, Shadow]:
    live = write_bundle(tmp_path / "live", world.config)
    cand = write_bundle(tmp_path / "candidate", candidate)
    runtime = prepare(str(live), env or world.env, shadow=ShadowOptions(str(cand), 1.0))
    assert runtime.shadow is not None
    return runtime, runtime.shadow


def test_the_candidate_issues_the_live_claims_with_the_live_jti(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unchanged candidate issues exactly the live claims, `jti`, `iat` and `exp` included,
    and a candidate deciding a request the live side refused uses a `jti` as long as a real one
    (so the size of its claims is checked as it would be live)."""
    world = World()
    runtime, shadow = _shadowed(world, tmp_path, candidate_config(world, "same"))
    seen: list[Decision] = []

    def recording(*args: Any) -> Decision:
        decision = decide(*args)
        seen.append(decision)
        return decision

    monkeypatch.setattr(shadow_module, "decide", recording)
    attempt = live_attempt(runtime, world.hs_token())
    assert isinstance(attempt.live, Issued)
    assert shadow.decide("req-00000001", attempt) == SAME
    candidate = seen[-1]
    assert isinstance(candidate, Issued)
    assert candidate.claims == attempt.live.claims
    assert candidate.claims["jti"] == attempt.live.claims["jti"]
    # so the two payloads are the same bytes, and `compare` needs nothing else
    assert attempt.live.comparable_payload != b""
    assert candidate.comparable_payload == attempt.live.comparable_payload

    refused = live_attempt(runtime, world.hs_token(exp=int(time.time()) - 3600))
    assert not isinstance(refused.live, Issued)
    assert shadow.decide("req-00000002", refused) == SAME
    assert shadow.counts[SAME] == 2

    # a candidate that issues what the live side refused: a stand-in `jti` as long as a real one
    runtime, shadow = _shadowed(world, tmp_path / "aud", candidate_config(world, "aud"))
    opened = live_attempt(runtime, world.hs_token(aud="another-audience"))
    assert not isinstance(opened.live, Issued)
    assert shadow.decide("req-00000003", opened) == WOULD_OPEN
    candidate = seen[-1]
    assert isinstance(candidate, Issued) and candidate.claims["jti"] == PLACEHOLDER_JTI
    assert len(PLACEHOLDER_JTI) == JTI_LENGTH


# -- refusals kept as decisions ------------------------------------------------------------------

def test_a_refusal_kept_as_the_candidates_decision_leaves_no_garbage(tmp_path: Path) -> None:
    """A candidate's refusal is kept as its decision: without the traceback and the chained
    exceptions, which would tie the exchange's frames and the decision in a reference cycle
    that only the garbage collector frees."""
    world = World()
    runtime, shadow = _shadowed(world, tmp_path, candidate_config(world, "tightened"))
    attempt = live_attempt(runtime, world.hs_token())
    assert isinstance(attempt.live, Issued)
    assert shadow.decide("req-00000001", attempt) == WOULD_BREAK
    refusal = decide(shadow.candidate.state, attempt.request, attempt.now, attempt.jws)
    assert isinstance(refusal, ExchangeError) and refusal.reason == "condition_failed"
    assert refusal.__traceback__ is None and refusal.__context__ is None
    gc.collect()
    gc.disable()
    try:
        for number in range(20):
            assert shadow.decide(f"req-{number:08d}", attempt) == WOULD_BREAK
        assert gc.collect() == 0
    finally:
        gc.enable()


# -- keys that differ are never taken as verified ----------------------------------------------

@pytest.mark.parametrize("difference", ["secret", "algorithms"])
def test_a_provider_whose_keys_differ_verifies_for_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, difference: str
) -> None:
    """The live side verified the token; the candidate's provider has the same issuer and
    audience but another secret (and other algorithms): no key source is shared, the candidate
    checks the signature (or the algorithm) itself and refuses: `would_break`."""
    world = World()
    candidate = candidate_config(world, "same")
    quickstart = candidate["identity_providers"]["quickstart"]
    env = dict(world.env)
    # another secret (long enough for HS384 too), and for `algorithms` HS384 alone
    quickstart["secret"] = {"env": "ROTATED_SECRET", "encoding": "utf8"}
    env["ROTATED_SECRET"] = "another secret, long enough for HS384 as well: 0123456789abcdef"
    if difference == "algorithms":
        quickstart["algorithms"] = ["HS384"]
    runtime, shadow = _shadowed(world, tmp_path, candidate, env)
    assert "quickstart" not in shadow.candidate.shared_keys
    calls: list[str] = []
    original = StaticKeySource.candidates

    def counting(self: StaticKeySource, kid: str | None, alg: str) -> Any:
        calls.append(alg)
        return original(self, kid, alg)

    monkeypatch.setattr(StaticKeySource, "candidates", counting)
    attempt = live_attempt(runtime, world.hs_token())
    assert isinstance(attempt.live, Issued)
    live_calls = len(calls)
    seen: list[Decision] = []

    def recording(*args: Any) -> Decision:
        decision = decide(*args)
        seen.append(decision)
        return decision

    monkeypatch.setattr(shadow_module, "decide", recording)
    assert shadow.decide("req-00000001", attempt) == WOULD_BREAK
    refusal = seen[-1]
    assert isinstance(refusal, ExchangeError)
    if difference == "secret":
        assert calls[live_calls:] == ["HS256"]  # the candidate's own keys were asked
        assert refusal.reason == "bad_signature"
    else:
        assert calls[live_calls:] == []  # refused before any key: the algorithm
        assert refusal.reason == "alg_not_allowed"
    assert shadow.counts[WOULD_BREAK] == 1


def test_the_same_keys_with_other_algorithms_are_verified_again_and_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The candidate's `rsa` provider has the live one's inline key set but one more algorithm:
    its keys are its own (the algorithms filter them), so the candidate verifies the token the
    live side verified, with its own keys, and agrees: `same`."""
    world = World()
    candidate = candidate_config(world, "same")
    candidate["identity_providers"]["rsa"]["algorithms"] = ["RS256", "PS256"]
    runtime, shadow = _shadowed(world, tmp_path, candidate)
    assert "rsa" not in shadow.candidate.shared_keys
    attempt = live_attempt(runtime, world.rs_token())
    assert isinstance(attempt.live, Issued)
    calls: list[str] = []
    original = StaticKeySource.candidates

    def counting(self: StaticKeySource, kid: str | None, alg: str) -> Any:
        calls.append(alg)
        return original(self, kid, alg)

    monkeypatch.setattr(StaticKeySource, "candidates", counting)
    assert shadow.decide("req-00000001", attempt) == SAME
    assert calls == ["RS256"]
    assert shadow.counts[SAME] == 1
