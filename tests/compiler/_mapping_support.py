"""Helpers for the mapping compiler tests: generate a module, load it the way the runtime does."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tokensmith.compiler.mappings import (
    Origin,
    generate_module,
    lower_mapping,
    lower_require,
)
from tokensmith.compiler.mappings.interpreter import evaluate_require

CONTEXT = {"identity_provider": "auth0", "service": "my-service"}
ORIGIN = Origin("tokensmith.yaml", 1)
VERSION = "0.0.0-test"

MappingFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


def load_module(text: str) -> dict[str, Any]:
    """Execute generated code in a fresh namespace, as `runtime/bundle.py` does."""
    code = compile(text, "<mappings.py>", "exec", dont_inherit=True)
    namespace: dict[str, Any] = {"__name__": "generated_mappings"}
    exec(code, namespace)
    return namespace


def generated_mapping(mapping: Mapping[str, Any]) -> MappingFunction:
    """The generated function of one identity provider mapping."""
    text = generate_module({"p": lower_mapping(mapping, ORIGIN)}, {}, {}, ["t.yaml"], VERSION)
    function: MappingFunction = load_module(text)["IDENTITY_PROVIDER_MAPPINGS"]["p"]
    return function


def generated_require(
    require: Mapping[str, Any], side: str = "identity_provider"
) -> MappingFunction:
    """The generated requirement function of one `require` object, of an identity provider or
    of a token provider (`side`)."""
    lowered = {"p": lower_require(require, ORIGIN)}
    mappings = {"p": lower_mapping({}, ORIGIN)}
    if side == "identity_provider":
        text = generate_module(mappings, lowered, {}, ["t.yaml"], VERSION)
        table = "IDENTITY_PROVIDER_REQUIREMENTS"
    else:
        text = generate_module(mappings, {}, mappings, ["t.yaml"], VERSION, lowered)
        table = "TOKEN_PROVIDER_REQUIREMENTS"
    function: MappingFunction = load_module(text)[table]["p"]
    return function


def require_holds(
    require: Mapping[str, Any], claims: Mapping[str, Any], context: Mapping[str, Any]
) -> bool:
    """Whether every condition holds, by the reference interpreter (`explain`'s verdicts)."""
    return all(verdict.holds for verdict in evaluate_require(require, claims, context))


def canonical(value: Any) -> str:
    """JSON text that tells `true` from `1` and `1.0` from `1`, and keeps key order."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
