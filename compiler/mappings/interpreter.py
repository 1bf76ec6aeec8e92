"""The reference interpreter of the mapping and condition semantics (`docs/mappings.md`,
`docs/conditions.md`).

It walks a mapping or a `require` object as written and evaluates every path with jsonpath-ng,
every test the plain way (`operators.py`). The
generated code must give exactly what this gives (property tests compare them); `tokensmith
explain` uses the traces to show where every mapped value came from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import AllOf, AnyOf, Leaf, Node, Not, fatal, parse_conditions
from .lower import PATH_SUFFIX, MappingError, output_key
from .operators import leaf_holds
from .paths import JsonPath, parse_path
from .paths import find_values as _find

OutputPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Trace:
    """One `.$` key evaluated: the output it fills, the path, and what it found."""

    output: OutputPath
    path: str
    definite: bool
    #: The matched values (a definite path matches at most one).
    matches: tuple[Any, ...]

    @property
    def found(self) -> bool:
        return bool(self.matches) or not self.definite


@dataclass(frozen=True)
class Verdict:
    """One condition evaluated: a leaf (`path` its path, `expected` the value as written,
    `matches` what the path found) or a combinator (`path` is `any_of`, `all_of`, `not` or
    `conditions` for one conditions object of a list, with its parts in `children`)."""

    path: str
    expected: Any
    holds: bool
    matches: tuple[Any, ...]
    children: tuple[Verdict, ...] = ()
    #: where it is written, relative to the `require` object
    at: tuple[str | int, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return self.path.startswith("$")


def apply_mapping(
    mapping: Mapping[str, Any],
    claims: Mapping[str, Any],
    context: Mapping[str, Any],
    trace: list[Trace] | None = None,
) -> dict[str, Any]:
    """The output of `mapping` for `claims`; each `.$` key evaluated is appended to `trace`."""
    return _object(mapping, claims, context, (), trace)


def evaluate_require(
    require: Mapping[str, Any], claims: Mapping[str, Any], context: Mapping[str, Any]
) -> list[Verdict]:
    """Each condition's verdict, in the order written, every part evaluated (no shortcut), so
    that `explain` can show them all. The conditions hold when every verdict holds.

    Raises `MappingError` for conditions that do not pass the checks.
    """
    tree, problems = parse_conditions(require)
    problem = fatal(problems)
    if problem is not None:
        raise MappingError(f"require: {problem.message}")
    return [_verdict(node, claims, context) for node in tree.items]


def _verdict(node: Node, claims: Mapping[str, Any], context: Mapping[str, Any]) -> Verdict:
    if isinstance(node, Leaf):
        matches = tuple(_matches(node.path, claims, context))
        if node.path.definite:
            matches = matches[:1]
        return Verdict(node.key, node.written, leaf_holds(node.tests, matches), matches, (),
                       node.at)
    if isinstance(node, AllOf):
        children = tuple(_verdict(item, claims, context) for item in node.items)
        name = "all_of" if node.kind == "all_of" else "conditions"
        return Verdict(name, None, all(c.holds for c in children), (), children, node.at)
    if isinstance(node, AnyOf):
        children = tuple(_verdict(item, claims, context) for item in node.alternatives)
        return Verdict("any_of", None, any(c.holds for c in children), (), children, node.at)
    assert isinstance(node, Not)
    body = _verdict(node.body, claims, context)
    return Verdict("not", None, not body.holds, (), (body,), node.at)


def _object(
    mapping: Mapping[str, Any],
    claims: Mapping[str, Any],
    context: Mapping[str, Any],
    at: OutputPath,
    trace: list[Trace] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = output_key(key)
        if not key.endswith(PATH_SUFFIX):
            out[name] = _template(value, claims, context, (*at, name), trace)
            continue
        path = parse_path(value)
        matches = _matches(path, claims, context)
        if trace is not None:
            trace.append(Trace((*at, name), value, path.definite, tuple(matches)))
        if not path.definite:
            out[name] = matches
        elif matches:
            out[name] = matches[0]
    return out


def _template(
    value: Any,
    claims: Mapping[str, Any],
    context: Mapping[str, Any],
    at: OutputPath,
    trace: list[Trace] | None,
) -> Any:
    if isinstance(value, Mapping):
        return _object(value, claims, context, at, trace)
    if isinstance(value, list):
        return [_template(v, claims, context, (*at, i), trace) for i, v in enumerate(value)]
    # A fresh copy: a constant must never be shared between two outputs.
    return copy.deepcopy(value)


def _matches(path: JsonPath, claims: Mapping[str, Any], context: Mapping[str, Any]) -> list[Any]:
    return _find(path, context if path.root == "context" else claims)

