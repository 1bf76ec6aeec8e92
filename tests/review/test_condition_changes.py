"""`diff` on `require` conditions: each change marked loosened or tightened only when certain.

The marks are checked two ways: by hand on the changes reviewers meet (one-of lists growing,
globs and prefixes widening, bounds moving, conditions added and removed, `not`), and by
hypothesis against the reference interpreter: whenever a change is marked `loosened`, every
value the old condition admits is admitted by the new one (and the reverse for `tightened`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.compiler.mappings.interpreter import evaluate_require
from tokensmith.review.condition_changes import NOTHING, effect, flatten_conditions

from .test_diff import BASE, diff, fields


def mark(old: Any, new: Any, place: str = "$.x") -> str | None:
    return effect(place, old, new, [place], [place])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (["a", "b"], ["a", "b", "c"], "loosened"),  # a one-of list grows
        (["a", "b", "c"], ["a"], "tightened"),
        ("a", ["a", "b"], "loosened"),  # equality becomes one-of
        (["a", "b"], ["b", "c"], None),  # neither
        ({"prefix": "refs/heads/release/"}, {"prefix": "refs/heads/"}, "loosened"),
        ({"prefix": "refs/heads/"}, {"prefix": "refs/heads/release/"}, "tightened"),
        ({"prefix": "refs/heads/"}, {"glob": "refs/heads/*"}, "same meaning"),
        ({"glob": "refs/heads/release/*"}, {"glob": "refs/heads/*"}, "loosened"),
        ({"glob": "repo:acme/*:ref:refs/heads/main"}, {"glob": "repo:acme/*"}, "loosened"),
        ({"glob": "repo:acme/*"}, {"glob": "repo:*/*"}, "loosened"),
        ({"glob": "a?c"}, {"glob": "a*c"}, "loosened"),
        ({"glob": "a*c"}, {"glob": "a?c"}, "tightened"),
        ({"glob": "a*"}, {"glob": "b*"}, None),
        ("refs/heads/main", {"glob": "refs/heads/*"}, "loosened"),
        ({"suffix": "@acme.test"}, {"suffix": ".test"}, "loosened"),
        ({"gte": 18}, {"gte": 16}, "loosened"),
        ({"gte": 18}, {"gt": 18}, "tightened"),
        ({"lt": 5}, {"lte": 5}, "loosened"),
        ({"gte": 1, "lt": 5}, {"gte": 1}, "loosened"),
        ({"gte": 1}, {"gte": 1, "lt": 5}, "tightened"),
        ({"exists": True}, {"prefix": "a"}, "tightened"),
        ({"contains": "mfa"}, {"contains": "otp"}, None),
        (True, 1, None),  # `true` is not `1`
        (None, [None, "a"], "loosened"),  # `$.x: null` is a condition, not an absence
    ],
)
def test_a_changed_condition_is_marked_when_certain(
    old: Any, new: Any, expected: str | None
) -> None:
    assert mark(old, new) == expected


def test_under_not_the_marks_swap() -> None:
    assert mark(["a"], ["a", "b"], "not.$.x") == "tightened"
    assert mark(["a"], ["a", "b"], "not.not.$.x") == "loosened"


def test_added_and_removed_conditions() -> None:
    old = flatten_conditions({"$.a": 1, "any_of": [{"$.b": 1}, {"$.c": 1}]})
    new = flatten_conditions({"$.a": 1, "$.d": 1, "any_of": [{"$.b": 1}, {"$.c": 1}, {"$.e": 1}]})
    assert list(old) == ["$.a", "any_of[0].$.b", "any_of[1].$.c"]
    assert effect("$.d", NOTHING, 1, list(old), list(new)) == "tightened"
    # a new alternative of an any_of that was there: more tokens pass
    assert effect("any_of[2].$.e", NOTHING, 1, list(old), list(new)) == "loosened"
    assert effect("$.d", 1, NOTHING, list(new), list(old)) == "loosened"
    assert effect("any_of[2].$.e", 1, NOTHING, list(new), list(old)) == "tightened"
    # a whole new any_of is one more condition to meet
    assert effect("any_of[0].$.b", NOTHING, 1, ["$.a"], list(old)) == "tightened"
    assert effect("not.$.d", NOTHING, 1, ["$.a"], ["$.a", "not.$.d"]) == "loosened"


# --- soundness against the reference interpreter ----------------------------------------------

TEXT = st.text(alphabet="ab/*", max_size=6)
STRINGS = st.text(alphabet="ab/", max_size=8)
CONDITIONS = st.one_of(
    STRINGS,
    st.lists(STRINGS, min_size=1, max_size=3),
    st.builds(lambda op, arg: {op: arg}, st.sampled_from(["prefix", "suffix"]), STRINGS),
    st.builds(lambda arg: {"glob": arg.replace("*", "?", arg.count("*") // 2)}, TEXT),
    st.builds(lambda op, n: {op: n}, st.sampled_from(["gte", "gt", "lte", "lt"]),
              st.integers(-2, 2)),
    st.lists(st.integers(-2, 2), min_size=1, max_size=3),
    st.just({"exists": True}),
)
VALUES = st.one_of(STRINGS, st.integers(-3, 3), st.none())


def holds(condition: Any, value: Any) -> bool:
    claims = {} if value is None else {"x": value}
    return all(v.holds for v in evaluate_require({"$.x": condition}, claims, {}))


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=400, deadline=None)
@given(CONDITIONS, CONDITIONS, st.lists(VALUES, min_size=1, max_size=12))
def test_a_mark_is_never_wrong(old: Any, new: Any, values: list[Any]) -> None:
    verdict = mark(old, new)
    for value in values:
        if verdict in ("loosened", "same meaning") and holds(old, value):
            assert holds(new, value), (old, new, value)
        if verdict in ("tightened", "same meaning") and holds(new, value):
            assert holds(old, value), (old, new, value)


# --- through diff, on real configs --------------------------------------------------------------

SERVICE_REQUIRE = BASE.replace(
    "    signing_key: k1\n",
    "    signing_key: k1\n    require: {$.org: {glob: %s}}\n",
) + """\
tests:
  - name: a user of acme-labs
    service: svc
    token: {iss: https://idp.example.com, sub: u1, org_id: acme-labs}
    expect: {error: condition_failed}
"""


def test_a_service_condition_loosened_and_its_effect_on_the_cases(tmp_path: Path) -> None:
    old, new = SERVICE_REQUIRE % "acme", SERVICE_REQUIRE % "'acme*'"
    result = diff(tmp_path, old, new)
    [item] = [i for i in result.items if i.name == "svc"]
    assert item.note == "conditions loosened"
    assert [(f.field, f.old, f.new, f.effect) for f in item.fields] == [
        ("require.$.org", 'glob "acme"', 'glob "acme*"', "loosened")]
    [case] = result.cases
    assert case.old.reason == "condition_failed" and case.old.error == "invalid_target"
    assert case.new.issued
    # and back: tightened, the case refused again
    result = diff(tmp_path, new, old)
    [item] = [i for i in result.items if i.name == "svc"]
    assert item.note == "conditions tightened"
    [case] = result.cases
    assert case.old.issued and case.new.reason == "condition_failed"


def test_a_service_condition_added_shows_in_the_diff(tmp_path: Path) -> None:
    old = BASE
    new = SERVICE_REQUIRE % "acme"
    changed = fields(diff(tmp_path, old, new), "svc")
    assert [(f.field, f.old, f.new, f.effect) for f in changed] == [
        ("require.$.org", None, 'glob "acme"', "tightened")]
