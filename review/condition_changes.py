"""How a change to `require` conditions moves the line between admitted and refused tokens.

`diff` shows conditions one line per condition (`flatten_conditions`) and marks each change
`loosened` (every token the old condition admits, the new one admits too), `tightened` (the
reverse), or `same meaning` (both: `prefix: a` became `glob: a*`). A change it cannot order
either way (`glob: a*` became `glob: b*`) gets no mark: it is a change, and the test cases show
its effect. The marks are sound, not complete: a mark is only given when it is certain.

A condition's place is its key under its combinators: `$.x`, `any_of[1].$.x`, `not.$.x`. Under
`not` the marks swap. An added condition tightens, unless it is a whole new alternative of an
`any_of` that was already there (which loosens); a removed one, the reverse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

LOOSENED, TIGHTENED, SAME = "loosened", "tightened", "same meaning"
COMBINATOR_LISTS = ("any_of", "all_of")
#: A glob as tokens: a literal character, or one of these two wildcards.
STAR, ONE = ("*",), ("?",)
_ALTERNATIVE = re.compile(r"any_of\[\d+\]\.")
_NUMBER_OPS = {"gte": (1, False), "gt": (1, True), "lte": (-1, False), "lt": (-1, True)}
_STRING_OPS = ("prefix", "suffix", "glob")
_VALUES = ("equals", "one_of")
#: The side of a condition that was added (its old side) or removed (its new side).
NOTHING: Any = object()


def flatten_conditions(require: Mapping[str, Any], scope: str = "") -> dict[str, Any]:
    """Place of each condition (see the module docstring) -> what it was written as."""
    out: dict[str, Any] = {}
    for key, value in require.items():
        if key in COMBINATOR_LISTS and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    out.update(flatten_conditions(item, f"{scope}{key}[{index}]."))
        elif key == "not" and isinstance(value, Mapping):
            out.update(flatten_conditions(value, f"{scope}not."))
        else:
            out[f"{scope}{key}"] = value
    return out


def shown(written: Any) -> str:
    """`= "a"`, `in ["a", "b"]`, `glob "x*", gte 3`: one condition as a diff line shows it."""
    if isinstance(written, list):
        return "in " + _json(written)
    if isinstance(written, Mapping):
        return ", ".join(f"{op} {_json(arg)}" for op, arg in written.items())
    return "= " + _json(written)


def effect(
    place: str, old: Any, new: Any, old_places: Sequence[str], new_places: Sequence[str]
) -> str | None:
    """The mark of one changed condition (`old`/`new` `NOTHING` when it was added/removed)."""
    mark: str | None
    if old is NOTHING and new is NOTHING:
        return None
    if old is NOTHING:
        mark = LOOSENED if _new_alternative(place, old_places) else TIGHTENED
    elif new is NOTHING:
        mark = TIGHTENED if _new_alternative(place, new_places) else LOOSENED
    else:
        looser = _implies(_tests(old), _tests(new))
        tighter = _implies(_tests(new), _tests(old))
        mark = SAME if looser and tighter else LOOSENED if looser else (
            TIGHTENED if tighter else None)
    if mark in (LOOSENED, TIGHTENED) and place.count("not.") % 2:
        mark = TIGHTENED if mark == LOOSENED else LOOSENED
    return mark


def _new_alternative(place: str, other_places: Sequence[str]) -> bool:
    """Whether `place` sits in an `any_of` alternative that the other side lacks, of an `any_of`
    that the other side has."""
    for match in _ALTERNATIVE.finditer(place):
        alternative, combinator = place[: match.end()], place[: match.start()] + "any_of["
        if not any(p.startswith(alternative) for p in other_places):
            return any(p.startswith(combinator) for p in other_places)
    return False


# --- one condition's tests, and whether one set of tests implies another ----------------------

Test = tuple[str, Any]


def _tests(written: Any) -> list[Test]:
    if isinstance(written, list):
        return [("one_of", written)]
    if isinstance(written, Mapping):
        return list(written.items())
    return [("equals", [written])]


def _implies(old: Sequence[Test], new: Sequence[Test]) -> bool:
    """Every value that passes all of `old` passes all of `new` (as far as can be seen)."""
    return all(any(_test_implies(a, b) for a in old) for b in new)


def _test_implies(a: Test, b: Test) -> bool:
    (op_a, arg_a), (op_b, arg_b) = a, b
    if op_b == "exists":
        return (arg_b is True and not (op_a == "exists" and arg_a is False)) or a == b
    if op_b in _VALUES or op_b in _STRING_OPS:
        return _admitted_within(a, b)
    if op_b in _NUMBER_OPS:
        return _bound_implies(a, b)
    if op_b == "contains":
        return op_a == "contains" and _json(arg_a) == _json(arg_b)
    return False


def _admitted_within(a: Test, b: Test) -> bool:
    """Every value `a` admits is one `b` admits: values and string patterns."""
    a_values, a_globs = _as_patterns(a)
    b_values, b_globs = _as_patterns(b)
    if a_values is None or b_values is None:
        return False
    return a_values <= b_values and all(any(_covers(g, h) for g in b_globs) for h in a_globs)


def _as_patterns(test: Test) -> tuple[set[str] | None, list[tuple[Any, ...]]]:
    """The non-string values (canonical JSON) and the string patterns a test admits; None when
    it is not such a test."""
    op, arg = test
    if op in _VALUES and isinstance(arg, list):
        strings = [_literal(v) for v in arg if isinstance(v, str)]
        return {_json(v) for v in arg if not isinstance(v, str)}, strings
    if op in _STRING_OPS and isinstance(arg, str):
        text = _literal(arg)
        pattern = {"prefix": (*text, STAR), "suffix": (STAR, *text)}.get(op) or _glob(arg)
        return set(), [pattern]
    return None, []


def _literal(text: str) -> tuple[Any, ...]:
    return tuple(text)


def _glob(text: str) -> tuple[Any, ...]:
    return tuple(STAR if c == "*" else ONE if c == "?" else c for c in text)


def _covers(g: Sequence[Any], h: Sequence[Any]) -> bool:
    """Whether the glob `g` matches every text the glob `h` matches: `g` run over `h`'s tokens,
    where a `*` of `g` may take any tokens, a `?` one character or `?`, a character itself."""
    reach = [False] * (len(h) + 1)  # reach[j]: g[:i] can match h[:j]
    reach[0] = True
    for token in g:
        if token == STAR:
            for j in range(1, len(h) + 1):
                reach[j] = reach[j] or reach[j - 1]
            continue
        nxt = [False] * (len(h) + 1)
        for j in range(1, len(h) + 1):
            other = h[j - 1]
            fits = other != STAR and token in (ONE, other)
            nxt[j] = reach[j - 1] and fits
        reach = nxt
    return reach[len(h)]


def _bound_implies(a: Test, b: Test) -> bool:
    (op_a, arg_a), (op_b, arg_b) = a, b
    direction, strict = _NUMBER_OPS[op_b]
    if op_a in _VALUES and isinstance(arg_a, list):
        return bool(arg_a) and all(_number(v) and _within(v, arg_b, direction, strict)
                                   for v in arg_a)
    if op_a not in _NUMBER_OPS or _NUMBER_OPS[op_a][0] != direction:
        return False
    a_strict = _NUMBER_OPS[op_a][1]
    if arg_a == arg_b:
        return a_strict or not strict
    return bool((arg_a - arg_b) * direction > 0)


def _within(value: float, bound: float, direction: int, strict: bool) -> bool:
    gap = (value - bound) * direction
    return gap > 0 or (gap == 0 and not strict)


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
