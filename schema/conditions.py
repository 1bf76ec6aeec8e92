"""The condition language of `require` (identity providers and token providers): its words.

A `require` object is a mapping whose entries must all hold. An entry is `JSONPATH: VALUE`
(equal), `JSONPATH: [VALUE, ...]` (one of), `JSONPATH: {OPERATOR: ARGUMENT, ...}` (every
operator holds on the value), or a combinator: `any_of: [CONDITIONS, ...]`, `all_of:
[CONDITIONS, ...]`, `not: CONDITIONS`. `docs/conditions.md` is the user's guide.

This module is the one list of operators and combinators: the compiler's checks, lowering,
interpreter and code generation, the review tools and the JSON Schema all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

#: The combinators, keys of a conditions object beside the paths.
COMBINATORS = ("any_of", "all_of", "not")


@dataclass(frozen=True)
class Operator:
    """One operator: its name, what its argument is, and what it holds for."""

    name: str
    #: `string`, `scalar` (string, number, boolean or null), `number` or `boolean`
    argument: str
    summary: str
    example: Any


OPERATORS: Mapping[str, Operator] = MappingProxyType({
    op.name: op
    for op in (
        Operator("prefix", "string", "a string claim that starts with this text", "release/"),
        Operator("suffix", "string", "a string claim that ends with this text", "@example.com"),
        Operator("glob", "string",
                 "a string claim matched as a whole: `*` any run of characters (`/` included), "
                 "`?` exactly one", "repo:acme/*:ref:refs/heads/main"),
        Operator("contains", "scalar", "an array claim that holds this value", "mfa"),
        Operator("gte", "number", "a number claim greater than or equal (booleans are not "
                 "numbers)", 18),
        Operator("gt", "number", "a number claim strictly greater", 0),
        Operator("lte", "number", "a number claim less than or equal", 100),
        Operator("lt", "number", "a number claim strictly less", 1000),
        Operator("exists", "boolean", "`true`: the claim is present (even as `null`); `false`: "
                 "it is absent. Every other operator fails on an absent claim", True),
    )
})  # fmt: skip

#: Operators that compare numbers, with the comparison each makes.
ORDERINGS = ("gte", "gt", "lte", "lt")
#: Operators that read a string claim.
STRING_OPERATORS = ("prefix", "suffix", "glob")

#: Names that people bring from other systems, and what to write instead (for hints).
SYNONYMS: Mapping[str, str] = MappingProxyType({
    "startswith": "prefix", "starts_with": "prefix", "startsWith": "prefix",
    "endswith": "suffix", "ends_with": "suffix", "endsWith": "suffix",
    "like": "glob", "StringLike": "glob", "matches": "glob", "wildcard": "glob", "pattern": "glob",
    "has": "contains", "includes": "contains", "in": "contains",
    "ge": "gte", "min": "gte", "NumericGreaterThanEquals": "gte",
    "NumericGreaterThan": "gt", "le": "lte", "max": "lte", "NumericLessThanEquals": "lte",
    "NumericLessThan": "lt", "present": "exists", "Null": "exists",
})  # fmt: skip

#: Names of an equality from other systems: equality needs no operator.
EQUALITY_WORDS = frozenset({"eq", "equals", "equal", "is", "StringEquals", "value", "==", "="})


def json_schema_defs() -> dict[str, Any]:
    """The `$defs` that describe `require` objects, for editors (`tokensmith schema`)."""
    nested = {"allOf": [{"$ref": "#/$defs/Conditions"}, {"minProperties": 1}]}
    scalar = ["string", "number", "boolean", "null"]
    operators: dict[str, Any] = {}
    for op in OPERATORS.values():
        kind: Any = {"string": "string", "scalar": scalar, "number": "number",
                     "boolean": "boolean"}[op.argument]
        operators[op.name] = {"type": kind, "description": op.summary, "examples": [op.example]}
    return {
        "Conditions": {
            "type": "object",
            "description": "conditions that must all hold: `JSONPATH: value` (equal), "
            "`JSONPATH: [values]` (one of), `JSONPATH: {operator: argument}`, or the "
            "combinators any_of, all_of, not (docs/conditions.md)",
            "properties": {
                "any_of": {"type": "array", "minItems": 1, "items": nested,
                           "description": "at least one of these conditions holds"},
                "all_of": {"type": "array", "minItems": 1, "items": nested,
                           "description": "every one of these conditions holds"},
                "not": {**nested, "description": "these conditions do not all hold"},
            },
            "patternProperties": {r"^\$": {"$ref": "#/$defs/Condition"}},
            "additionalProperties": False,
        },
        "Condition": {
            "description": "a value (equal, strictly typed: true is not 1), a list (one of), "
            "or operators that must all hold",
            "anyOf": [
                {"type": scalar},
                {"type": "array", "minItems": 1},
                {"type": "object", "minProperties": 1, "additionalProperties": False,
                 "properties": operators},
            ],
        },
    }
