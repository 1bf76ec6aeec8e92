"""The meaning of each condition test, written the plain way: the reference the generated code
is compared with (property tests), and what the static analysis and `explain` evaluate.

A leaf (`PATH: tests`) holds when its `exists` tests hold on whether the path found anything,
and its other tests all hold on the value (a definite path) or on one same match (an indefinite
path). A value that is not there fails every test but `exists: false`. The glob here is a
set-of-states simulation, independent of the runtime's matcher (`runtime/globs.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokensmith.runtime.mapping_api import json_equal, json_in

from .conditions import EQUALS, ONE_OF, Test


def test_holds(test: Test, value: Any) -> bool:
    """Whether `test` (not `exists`) holds on a found `value`."""
    op, arg = test.op, test.arg
    if op in (EQUALS, ONE_OF):
        assert isinstance(arg, list)
        return json_in(value, arg)
    if op in ("prefix", "suffix", "glob"):
        if type(value) is not str:
            return False
        assert isinstance(arg, str)
        if op == "prefix":
            return value.startswith(arg)
        if op == "suffix":
            return value.endswith(arg)
        return glob_matches(arg, value)
    if op == "contains":
        return type(value) is list and any(json_equal(item, arg) for item in value)
    if op in ("gte", "gt", "lte", "lt"):
        if type(value) not in (int, float) or type(arg) not in (int, float):
            return False
        assert isinstance(arg, int | float)
        return _ordered(op, value, arg)
    raise ValueError(f"not a value test: {op}")


def _ordered(op: str, value: float, arg: float) -> bool:
    if op == "gte":
        return value >= arg
    if op == "gt":
        return value > arg
    if op == "lte":
        return value <= arg
    return value < arg


def leaf_holds(tests: Sequence[Test], matches: Sequence[Any]) -> bool:
    """Whether every test holds, given what the path found (at most one match if definite)."""
    values = [t for t in tests if t.op != "exists"]
    for test in tests:
        if test.op == "exists" and bool(matches) is not test.arg:
            return False
    if not values:
        return True
    return any(all(test_holds(t, match) for t in values) for match in matches)


def glob_matches(pattern: str, text: str) -> bool:
    """`*` any run of characters, `?` one, the whole text: the pattern's positions as a set of
    states advanced one character at a time (len(text) x len(pattern) steps at most)."""
    states = _closure(pattern, {0})
    for char in text:
        states = _closure(pattern, {
            state + (pattern[state] != "*")
            for state in states
            if state < len(pattern) and pattern[state] in ("*", "?", char)
        })
        if not states:
            return False
    return len(pattern) in states


def _closure(pattern: str, states: set[int]) -> set[int]:
    """`states` and every state reached by letting a `*` match nothing."""
    out = set(states)
    for state in states:
        while state < len(pattern) and pattern[state] == "*":
            state += 1
            out.add(state)
    return out
