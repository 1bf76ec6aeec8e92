"""Claim checks: NumericDate types, time windows with leeway, `iss`/`aud`/`sub` shapes."""

from __future__ import annotations

import itertools
import math
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime.claims import (
    EXPIRED,
    ISSUED_IN_FUTURE,
    MALFORMED,
    MAX_AUDIENCES,
    NOT_YET_VALID,
    read_audiences,
    read_issuer,
    validate_claims,
)
from tokensmith.runtime.errors import InvalidRequest

NOW = 1_800_000_000.0


def refusal(claims: dict[str, Any], now: float = NOW, leeway: int = 0) -> tuple[str, str]:
    with pytest.raises(InvalidRequest) as info:
        validate_claims(claims, now, leeway)
    assert type(info.value) is InvalidRequest
    return info.value.description, info.value.reason


def test_valid_claims_return_exp() -> None:
    assert (
        validate_claims({"exp": NOW + 60, "iat": NOW, "nbf": NOW, "sub": "u1"}, NOW, 0) == NOW + 60
    )


def test_exp_is_required() -> None:  # B02
    assert refusal({"iat": NOW, "sub": "u1"}) == (MALFORMED, "missing_exp")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value", ["9999999999", True, False, None, [1], {"n": 1}, math.inf, -math.inf, math.nan, ""]
)
def test_numeric_dates_must_be_json_numbers(claim: str, value: Any) -> None:  # B05
    claims: dict[str, Any] = {"exp": NOW + 60, claim: value}
    assert refusal(claims) == (MALFORMED, "malformed")


def test_type_errors_win_over_time_errors() -> None:
    # an expired token with a string `iat` is reported as malformed, whatever the order of keys
    assert refusal({"exp": NOW - 1000, "iat": "x"}) == (MALFORMED, "malformed")


def test_negative_and_huge_exp_are_numbers() -> None:  # B05 `-1`, B03 `10**30`
    assert refusal({"exp": -1}) == (EXPIRED, "expired")
    assert validate_claims({"exp": 10**30}, NOW, 0) == 10**30
    assert validate_claims({"exp": 10**400}, NOW, 0) == 10**400


def test_exp_boundary_without_leeway() -> None:  # B01
    assert refusal({"exp": NOW - 1}) == (EXPIRED, "expired")
    assert refusal({"exp": NOW}) == (EXPIRED, "expired")
    assert validate_claims({"exp": NOW + 1}, NOW, 0) == NOW + 1


def test_exp_boundary_with_leeway() -> None:  # B01, B06
    assert validate_claims({"exp": NOW - 59}, NOW, 60) == NOW - 59
    assert refusal({"exp": NOW - 60}, leeway=60) == (EXPIRED, "expired")
    assert refusal({"exp": NOW - 61}, leeway=60) == (EXPIRED, "expired")


def test_fractional_exp_buys_no_time() -> None:
    # floor(exp) like PyJWT: 0.9 s left is treated as already expired at `now`
    assert refusal({"exp": NOW + 0.9}, now=NOW + 0.5) == (EXPIRED, "expired")


def test_nbf_in_the_future() -> None:  # B04
    assert refusal({"exp": NOW + 900, "nbf": NOW + 600}, leeway=60) == (
        NOT_YET_VALID,
        "not_yet_valid",
    )
    assert validate_claims({"exp": NOW + 900, "nbf": NOW + 60}, NOW, 60) == NOW + 900
    assert refusal({"exp": NOW + 900, "nbf": NOW + 61}, leeway=60)[1] == "not_yet_valid"


def test_iat_in_the_future() -> None:  # B04
    assert refusal({"exp": NOW + 900, "iat": NOW + 600}, leeway=60) == (
        ISSUED_IN_FUTURE,
        "iat_future",
    )
    assert validate_claims({"exp": NOW + 900, "iat": NOW + 60}, NOW, 60) == NOW + 900


@pytest.mark.parametrize("sub", [123, "", None, ["u1"], {"id": "u1"}, True])
def test_sub_when_present_is_a_non_empty_string(sub: Any) -> None:  # B15
    assert refusal({"exp": NOW + 60, "sub": sub}) == (MALFORMED, "malformed")


def test_sub_may_be_absent() -> None:  # B15: decided optional (anonymous tokens have none)
    assert validate_claims({"exp": NOW + 60}, NOW, 0) == NOW + 60


@pytest.mark.parametrize("iss", [["https://idp.example"], 123, None, True, {"u": 1}, ""])
def test_issuer_must_be_a_string(iss: Any) -> None:  # B09
    with pytest.raises(InvalidRequest) as info:
        read_issuer({"iss": iss})
    assert info.value.reason == "malformed"


def test_issuer_absent_is_none() -> None:
    assert read_issuer({}) is None
    assert read_issuer({"iss": "https://idp.example"}) == "https://idp.example"


@pytest.mark.parametrize(
    "aud", [123, [123], {"x": "svc"}, "", [], None, ["svc", ""], ["svc", None], [["svc"]]]
)
def test_audience_shapes_that_are_malformed(aud: Any) -> None:  # B12
    with pytest.raises(InvalidRequest) as info:
        read_audiences({"aud": aud})
    assert info.value.reason == "malformed"


def test_audience_list_is_bounded() -> None:
    assert len(read_audiences({"aud": [f"a{i}" for i in range(MAX_AUDIENCES)]})) == MAX_AUDIENCES
    with pytest.raises(InvalidRequest):
        read_audiences({"aud": [f"a{i}" for i in range(MAX_AUDIENCES + 1)]})


def test_audience_forms() -> None:
    assert read_audiences({}) == ()
    assert read_audiences({"aud": "svc"}) == ("svc",)
    assert read_audiences({"aud": ["svc", "other"]}) == ("svc", "other")


@given(
    exp=st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False)),
    nbf=st.one_of(st.none(), st.integers(-(2**40), 2**40), st.floats(-1e12, 1e12)),
    iat=st.one_of(st.none(), st.integers(-(2**40), 2**40), st.floats(-1e12, 1e12)),
    now=st.integers(0, 2**33),
    leeway=st.integers(0, 300),
)
def test_every_accepted_time_window_is_accepted_by_pyjwt(
    exp: float, nbf: float | None, iat: float | None, now: int, leeway: int
) -> None:
    """Differential: what we accept, PyJWT's own `_validate_*` accept with the same leeway."""
    claims: dict[str, Any] = {"exp": exp}
    if nbf is not None:
        claims["nbf"] = nbf
    if iat is not None:
        claims["iat"] = iat
    try:
        validate_claims(claims, now, leeway)
    except InvalidRequest:
        return
    checker = jwt.PyJWT()
    checker._validate_exp(claims, now, leeway)
    if nbf is not None:
        checker._validate_nbf(claims, now, leeway)
    if iat is not None:
        checker._validate_iat(claims, now, leeway)


def _reference(claims: dict[str, Any], now: float, leeway: int) -> int | float:
    """The claim checks one small step at a time, as they were written before
    `validate_claims` was inlined for speed: the two must refuse and return alike."""
    dates = {}
    for name in ("exp", "nbf", "iat"):
        if name in claims:
            value = claims[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidRequest(MALFORMED, "malformed")
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidRequest(MALFORMED, "malformed")
            dates[name] = value
    if "sub" in claims and (not isinstance(claims["sub"], str) or claims["sub"] == ""):
        raise InvalidRequest(MALFORMED, "malformed")
    if "exp" not in dates:
        raise InvalidRequest(MALFORMED, "missing_exp")
    if math.floor(dates["exp"]) <= now - leeway:
        raise InvalidRequest(EXPIRED, "expired")
    if "nbf" in dates and dates["nbf"] > now + leeway:
        raise InvalidRequest(NOT_YET_VALID, "not_yet_valid")
    if "iat" in dates and dates["iat"] > now + leeway:
        raise InvalidRequest(ISSUED_IN_FUTURE, "iat_future")
    return dates["exp"]


_NEAR_NOW = [int(NOW) + d for d in (-61, -60, -1, 0, 1, 2, 60, 61)]
_DATES = st.sampled_from([*_NEAR_NOW, *(v + 0.5 for v in _NEAR_NOW), *(v - 0.5 for v in _NEAR_NOW)])
_OTHERS = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.none(), st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=500)
@given(
    dates=st.dictionaries(st.sampled_from(["exp", "nbf", "iat"]), _DATES),
    others=st.dictionaries(st.sampled_from(["exp", "nbf", "iat", "sub", "x"]), _OTHERS, max_size=2),
    now=st.sampled_from([NOW, NOW + 0.5, NOW - 0.5]),
    leeway=st.sampled_from([0, 1, 60]),
)
def test_validate_claims_refuses_and_returns_as_the_step_by_step_checks(
    dates: dict[str, Any], others: dict[str, Any], now: float, leeway: int
) -> None:
    claims = {**dates, **others} if len(others) % 2 else dates
    try:
        expected: tuple[str, Any] = ("returns", _reference(claims, now, leeway))
    except InvalidRequest as exc:
        expected = ("refuses", (exc.description, exc.reason))
    try:
        got: tuple[str, Any] = ("returns", validate_claims(claims, now, leeway))
    except InvalidRequest as exc:
        got = ("refuses", (exc.description, exc.reason))
    if expected[0] == "returns" and isinstance(expected[1], float) and math.isnan(expected[1]):
        pytest.fail("a NaN exp was accepted")
    assert got == expected


def _outcome(check: Any, claims: dict[str, Any], now: float, leeway: int) -> tuple[str, Any]:
    try:
        return "returns", check(claims, now, leeway)
    except InvalidRequest as exc:
        return "refuses", (exc.description, exc.reason)


def test_validate_claims_decides_every_boundary_as_the_step_by_step_checks() -> None:
    """Every combination of `exp`, `nbf`, `iat` absent or just around `now` and the leeway."""
    base = int(NOW)
    values = [None, base - 61, base - 1, base, base + 1, base + 60, base + 0.5, base - 0.5]
    for exp, nbf, iat in itertools.product(values, repeat=3):
        claims = {n: v for n, v in (("exp", exp), ("nbf", nbf), ("iat", iat)) if v is not None}
        for now in (NOW, NOW + 0.5, NOW - 0.5):
            for leeway in (0, 1, 60):
                assert _outcome(validate_claims, claims, now, leeway) == _outcome(
                    _reference, claims, now, leeway
                ), (claims, now, leeway)
