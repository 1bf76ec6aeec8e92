"""A subject token cannot buy more server CPU than a good exchange costs.

The attack: a 14.7 KB token whose payload is thousands of small arrays (within the depth
limit). Parsed in full, it cost about 100 times a whole good HS256 exchange before its issuer was
even matched; with cohort batching every answer of its batch waited for it. The header and the
payload may hold at most `MAX_CONTAINERS` arrays and objects, counted before parsing.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tokensmith.runtime import strict_json
from tokensmith.runtime.errors import ExchangeError, InvalidRequest
from tokensmith.runtime.exchange import ExchangeRequest, exchange
from tokensmith.runtime.jose import MAX_CONTAINERS, parse_compact

from ..support.http_server import World


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HEADER = b64(b'{"alg":"HS256","typ":"JWT"}')
SIGNATURE = b64(b"s" * 32)


def token_with_arrays(count: int) -> str:
    """A token whose payload holds `count` arrays (one holding `count - 1` empty ones)."""
    inner = "[" + ",".join(["[]"] * (count - 1)) + "]"
    payload = b64(('{"iss":"x","a":' + inner + "}").encode())
    return f"{HEADER}.{payload}.{SIGNATURE}"


ATTACK = token_with_arrays(3650)


def test_the_attack_token_is_refused_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert 14_000 < len(ATTACK) < 16_384
    parse_compact(token_with_arrays(2))  # the header, parsed and remembered
    parsed: list[str] = []

    class Spy:
        def decode(self, text: str) -> object:
            parsed.append(text)
            raise AssertionError("the payload was parsed")

    monkeypatch.setattr(strict_json, "_DECODER", Spy())
    monkeypatch.setattr(strict_json, "canonical_loads", Spy().decode)
    with pytest.raises(InvalidRequest) as refused:
        parse_compact(ATTACK)
    assert refused.value.reason == "bad_json" and parsed == []


def test_claims_with_as_many_containers_as_allowed_still_parse() -> None:
    # MAX_CONTAINERS - 1 arrays in the payload, plus the payload object itself
    jws = parse_compact(token_with_arrays(MAX_CONTAINERS - 1))
    assert len(jws.claims["a"]) == MAX_CONTAINERS - 2
    with pytest.raises(InvalidRequest):
        parse_compact(token_with_arrays(MAX_CONTAINERS))


def _best(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(runs):
            fn()
        best = min(best, (time.perf_counter() - started) / runs)
    return best


@pytest.mark.parametrize("arrays", [3650, MAX_CONTAINERS - 1])
def test_a_hostile_token_costs_less_than_a_few_good_exchanges(tmp_path: Path, arrays: int) -> None:
    world = World()
    state = world.runtime(tmp_path / "bundle").state
    good = ExchangeRequest(world.hs_token(), "my-service")
    hostile = ExchangeRequest(token_with_arrays(arrays), "my-service")

    def attempt(request: ExchangeRequest) -> Callable[[], object]:
        def run() -> object:
            try:
                return exchange(state, request, time.time(), lambda: "jti")
            except ExchangeError as exc:
                return exc
        return run

    assert not isinstance(attempt(good)(), ExchangeError)
    assert isinstance(attempt(hostile)(), ExchangeError)
    ratio = _best(attempt(hostile), 100) / _best(attempt(good), 300)
    print(f"{arrays} arrays: {ratio:.1f} x a good exchange")
    # measured here: 2x (3650 arrays, refused uncounted) and 2x (255); 100x before the bound
    assert ratio < 10
