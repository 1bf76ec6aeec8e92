"""The small published API that generated mapping code (a bundle's `mappings.py`) may use.

Generated code imports only the names in `__all__`. Definite paths are compiled to plain
dictionary and list access and need only `MISSING`; indefinite paths (wildcards, slices,
filters, unions, `..`) go through `compile_path`, parsed once when the module is loaded;
`require` conditions compare with `json_in`, which is strict about JSON types, and match globs
with `compile_glob` (`runtime/globs.py`: no backtracking, linear in the text), also compiled
once when the module is loaded.

This module imports only the standard library, jsonpath-ng and `runtime/globs.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Final, final

from .globs import compile_glob

__all__ = ["MISSING", "compile_glob", "compile_path", "copy_json", "json_equal", "json_in"]

#: Names of the context object that `$$` paths read; the compiler refuses any other name.
CONTEXT_NAMES: Final = ("identity_provider", "service")


def mapping_context(identity_provider: str, service: str) -> dict[str, str]:
    """The `$$` context object of one exchange (its keys are `CONTEXT_NAMES`)."""
    return {"identity_provider": identity_provider, "service": service}


@final
class _Missing:
    """The type of `MISSING`: a path that matched nothing. Never equal to a JSON value."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


#: What a definite path yields when nothing matches; the key is then left out.
MISSING: Final = _Missing()


def compile_path(expression: str) -> Callable[[Any], list[Any]]:
    """Parse a JSONPath once and return `find(data) -> list of matched values`, in order.

    The expression starts with `$` and was validated by the compiler; the dialect is
    jsonpath-ng's extended parser (filters, RFC 9535 comparisons: `true` is never `1`).
    """
    # Imported here so that a bundle without indefinite paths never loads the parser.
    from jsonpath_ng.ext.parser import parse

    parsed = parse(expression)
    find = parsed.find

    def find_values(data: Any) -> list[Any]:
        return [match.value for match in find(data)]

    find_values.__name__ = "find_values"
    find_values.__qualname__ = f"compile_path({expression!r})"
    return find_values


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values, strict about types: `true` is not `1`, `"1"` is not `1`.

    Numbers compare by value whatever their Python type (`1` equals `1.0`), because JSON has
    one number type. Arrays compare element-wise, objects by their members in any order.
    """
    if type(left) is bool or type(right) is bool:
        return left is right
    if type(left) in (int, float) and type(right) in (int, float):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(map(json_equal, left, right))
    if type(left) is dict:
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    return bool(left == right)


def json_in(value: Any, candidates: Sequence[Any]) -> bool:
    """Whether `value` is `json_equal` to one of `candidates`."""
    return any(json_equal(value, candidate) for candidate in candidates)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, for callers that want to change a mapping's output."""
    if type(value) is dict or type(value) is list:
        return copy.deepcopy(value)
    return value
