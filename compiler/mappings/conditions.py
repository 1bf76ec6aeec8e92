"""`require` conditions as written -> a small tree, with every shape problem found on the way.

One reader for everyone: the checks turn its `Problem`s into located findings, lowering refuses
a tree that has any, and the reference interpreter, the static analysis and `explain` walk the
tree. The words of the language (operators, combinators, argument kinds) are
`schema/conditions.py`'s.

The tree: a conditions object is an `AllOf` of its entries in written order; an entry is a
`Leaf` (a path and the tests its value must pass) or a combinator: `all_of: [A, B]` an `AllOf` of
`AllOf`s, `any_of` an `AnyOf` of `AllOf` alternatives, `not` a `Not` of one `AllOf`. Every node
keeps its place (`at`, a config path relative to the `require` object).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from tokensmith.schema.codes import E307, E355, E370, E371, E372, Code
from tokensmith.schema.conditions import COMBINATORS, EQUALITY_WORDS, OPERATORS, SYNONYMS
from tokensmith.schema.diagnostics import describe, did_you_mean
from tokensmith.schema.location import ConfigPath

from .ir import JsonValue
from .paths import JsonPath, PathSyntaxError, parse_path

#: Tests that compare with written values: `$.x: V` and `$.x: [V, ...]`.
EQUALS, ONE_OF = "equals", "one_of"


@dataclass(frozen=True)
class Test:
    """One test of a value: `equals`/`one_of` (with `arg` the list of accepted values) or an
    operator of `schema/conditions.py` and its argument."""

    op: str
    arg: JsonValue


@dataclass(frozen=True)
class Leaf:
    """`PATH: VALUE`: every test holds on the value the path yields (on one match of an
    indefinite path)."""

    key: str
    path: JsonPath
    tests: tuple[Test, ...]
    written: JsonValue
    at: ConfigPath


@dataclass(frozen=True)
class AllOf:
    """Every item holds: a conditions object (`kind` "conditions") or an `all_of` list."""

    items: tuple[Node, ...]
    at: ConfigPath
    kind: str = "conditions"


@dataclass(frozen=True)
class AnyOf:
    alternatives: tuple[AllOf, ...]
    at: ConfigPath


@dataclass(frozen=True)
class Not:
    body: AllOf
    at: ConfigPath


Node: TypeAlias = "Leaf | AllOf | AnyOf | Not"


@dataclass(frozen=True)
class Problem:
    """A shape problem: a catalogued code, a message, where (`at`, and whether its key rather
    than its value is at fault), and an optional hint."""

    code: Code
    message: str
    at: ConfigPath
    in_key: bool = False
    hint: str | None = None
    #: False when the part still has a meaning and stays in the tree (an empty one-of list
    #: never holds): an error for `check`, but no obstacle to lowering or interpreting
    fatal: bool = True


def fatal(problems: list[Problem]) -> Problem | None:
    """The first problem that leaves the conditions without a meaning, if any."""
    return next((problem for problem in problems if problem.fatal), None)


def parse_conditions(require: object) -> tuple[AllOf, list[Problem]]:
    """The tree of a `require` object and every problem of its shape (none: it can be lowered).

    Parts with a problem are left out of the tree, so the rest can still be analysed.
    """
    problems: list[Problem] = []
    if not isinstance(require, Mapping):
        problems.append(Problem(E371, "`require` is a mapping of conditions", ()))
        return AllOf((), ()), problems
    return _object(require, (), problems), problems


def _object(conditions: Mapping[Any, Any], at: ConfigPath, problems: list[Problem]) -> AllOf:
    items: list[Node] = []
    for key, value in conditions.items():
        where = (*at, key)
        if not isinstance(key, str):
            problems.append(Problem(E355, f"the key {key!r} is not a JSONPath", where, True))
        elif key in COMBINATORS:
            node = _combinator(key, value, where, problems)
            if node is not None:
                items.append(node)
        else:
            leaf = _leaf(key, value, where, problems)
            if leaf is not None:
                items.append(leaf)
    return AllOf(tuple(items), at)


def _combinator(
    key: str, value: object, at: ConfigPath, problems: list[Problem]
) -> Node | None:
    if key == "not":
        body = _nested(value, at, problems, "`not` takes a conditions object")
        return None if body is None else Not(body, at)
    if not isinstance(value, list):
        problems.append(Problem(E371, f"`{key}` takes a list of conditions objects, found "
                                f"{describe(value)}", at, hint=f"{key}: [{{$.a: 1}}, {{$.b: 2}}]"))
        return None
    if not value:
        never = " (it would never hold)" if key == "any_of" else ""
        problems.append(Problem(E372, f"`{key}` lists no conditions{never}", at,
                                hint="list at least one conditions object, or remove it"))
        return None
    parts = [_nested(item, (*at, i), problems, f"each item of `{key}` is a conditions object")
             for i, item in enumerate(value)]
    kept = tuple(part for part in parts if part is not None)
    if key == "any_of":
        return AnyOf(kept, at)
    return AllOf(kept, at, "all_of")


def _nested(value: object, at: ConfigPath, problems: list[Problem], shape: str) -> AllOf | None:
    if not isinstance(value, Mapping):
        problems.append(Problem(E371, f"{shape}, found {describe(value)}", at))
        return None
    if not value:
        problems.append(Problem(E372, "an empty conditions object", at,
                                hint="write at least one condition in it, or remove it"))
        return None
    return _object(value, at, problems)


def _leaf(key: str, value: object, at: ConfigPath, problems: list[Problem]) -> Leaf | None:
    try:
        path = parse_path(key)
    except PathSyntaxError as exc:
        hint = None if key.startswith("$") else did_you_mean(key, COMBINATORS)
        problems.append(Problem(
            E355, f"the key {_shown(key)} is not a valid JSONPath: {exc.reason} (at character "
            f"{exc.offset + 1})", at, True,
            hint or "a condition names a claim by path, e.g. `$.email_verified: true`"))
        return None
    tests = _tests(key, value, at, problems)
    if tests is None:
        return None
    return Leaf(key, path, tests, _json(value), at)


def _tests(
    key: str, value: object, at: ConfigPath, problems: list[Problem]
) -> tuple[Test, ...] | None:
    if isinstance(value, list):
        if not value:
            problems.append(Problem(
                E307, f"the condition {key!r} lists no accepted value, so it never holds and "
                "every token it applies to is refused", at,
                hint="list the accepted values, or remove the condition", fatal=False))
        return (Test(ONE_OF, [_json(v) for v in value]),)
    if not isinstance(value, Mapping):
        return (Test(EQUALS, [_json(value)]),)
    if not value:
        problems.append(Problem(E372, f"the condition {key!r} has no operator", at,
                                hint="e.g. `{exists: true}`; to require an empty object, "
                                "write `[{}]`"))
        return None
    tests = []
    for name, argument in value.items():
        where = (*at, name)
        if name not in OPERATORS:
            problems.append(_unknown(str(name), value, where))
            continue
        problem = _argument_problem(name, argument, where)
        if problem is not None:
            problems.append(problem)
            continue
        tests.append(Test(name, _json(argument)))
    return tuple(tests) if len(tests) == len(value) else None


def _unknown(name: str, operators: Mapping[Any, Any], at: ConfigPath) -> Problem:
    names = sorted(OPERATORS)
    hint: str | None
    if name in EQUALITY_WORDS:
        hint = "equality needs no operator: write the value itself (`$.x: value`)"
    elif name in SYNONYMS:
        hint = f"did you mean '{SYNONYMS[name]}'?"
    else:
        hint = did_you_mean(name, names) or did_you_mean(name.lower(), names)
    if hint is None and not any(key in OPERATORS for key in operators):
        hint = "to require this object as the value, write it in a list: `[{...}]` (one of)"
    return Problem(E370, f"unknown operator {_shown(name)}; the operators are "
                   + ", ".join(names), at, True, hint)


def _argument_problem(name: str, argument: object, at: ConfigPath) -> Problem | None:
    kind = OPERATORS[name].argument
    if kind == "string" and isinstance(argument, str):
        return None
    if kind == "boolean" and isinstance(argument, bool):
        return None
    if kind == "number" and _is_number(argument):
        return None
    if kind == "scalar" and (argument is None or isinstance(argument, str | bool)
                             or _is_number(argument)):
        return None
    wanted = {"string": "a string", "boolean": "true or false", "number": "a number",
              "scalar": "a string, number, boolean or null"}[kind]
    hint = None
    if kind == "number" and isinstance(argument, str):
        hint = f"write the number without quotes: `{name}: {argument}`"
    elif kind == "string" and isinstance(argument, int | float) and not isinstance(argument, bool):
        hint = f"quote it: `{name}: \"{argument}\"`"
    elif kind == "boolean" and isinstance(argument, str):
        hint = "`exists: true` or `exists: false` (YAML reads `yes` as a string)"
    elif kind == "scalar" and isinstance(argument, list):
        hint = "for several values, use `any_of` or `all_of` with one `contains` each"
    return Problem(E371, f"`{name}` takes {wanted}, found {describe(argument)}", at, hint=hint)


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _json(value: object) -> JsonValue:
    """A plain JSON copy of a loaded value (YAML loads JSON-like data only)."""
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def walk(node: Node) -> list[Node]:
    """Every node of a tree, parents before children, in written order."""
    out: list[Node] = [node]
    if isinstance(node, AllOf):
        for item in node.items:
            out += walk(item)
    elif isinstance(node, AnyOf):
        for alternative in node.alternatives:
            out += walk(alternative)
    elif isinstance(node, Not):
        out += walk(node.body)
    return out


def leaves(node: Node) -> list[Leaf]:
    """Every leaf of a tree, in written order."""
    return [n for n in walk(node) if isinstance(n, Leaf)]
