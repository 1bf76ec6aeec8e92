"""The reference interpreter of the mapping semantics (`docs/mappings.md`).

It walks a mapping as written and evaluates every path with jsonpath-ng, the plain way. The
generated code must give exactly what this gives (property tests compare them); `tokensmith
explain` uses the traces to show where every mapped value came from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokensmith.runtime.mapping_api import json_in

from .lower import PATH_SUFFIX, output_key
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
    """One `require` condition evaluated."""

    path: str
    expected: Any
    holds: bool
    matches: tuple[Any, ...]


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
    """Each condition's verdict, in the order written."""
    verdicts = []
    for key, expected in require.items():
        path = parse_path(key)
        matches = tuple(_matches(path, claims, context))
        candidates = expected if isinstance(expected, list) else [expected]
        holds = any(json_in(m, candidates) for m in matches)
        verdicts.append(Verdict(key, expected, holds, matches))
    return verdicts


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

