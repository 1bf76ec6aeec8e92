"""Lowering: a mapping or `require` table as written (plain JSON data) -> the tree IR.

Lowering expects input that `checks.check_mapping` / `check_require` found free of errors; it
raises `MappingError` otherwise, so that a bad mapping can never reach code generation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping

from tokensmith.schema.errors import BuildError
from tokensmith.schema.location import ConfigPath

from . import conditions as cond
from .ir import (
    ConditionAll,
    ConditionAny,
    ConditionLeaf,
    ConditionNode,
    ConditionNot,
    ConditionTest,
    Constant,
    DefinitePath,
    Entry,
    IndefinitePath,
    JsonValue,
    ListNode,
    LoweredMapping,
    LoweredRequire,
    Node,
    ObjectNode,
    Origin,
    PathNode,
)
from .paths import PathSyntaxError, parse_path

PATH_SUFFIX = ".$"


class MappingError(BuildError, ValueError):
    """A mapping that does not pass the compile-time checks (run them before lowering)."""


def output_key(key: str) -> str:
    """The output key of a mapping key: `sub.$` -> `sub`, `service` -> `service`."""
    return key[: -len(PATH_SUFFIX)] if key.endswith(PATH_SUFFIX) else key


def lower_mapping(mapping: object, origin: Origin) -> LoweredMapping:
    """The tree IR of a mapping object; `origin` is recorded for the generated comment."""
    return LoweredMapping(_object(mapping, "mapping"), origin)


def lower_require(
    require: object, origin: Origin, locate: Callable[[ConfigPath], Origin] | None = None
) -> LoweredRequire:
    """The tree IR of a `require` object (`schema/conditions.py`'s language).

    `locate` gives the origin of a part (a config path relative to the `require` object), for
    the comment above the function a combinator becomes; by default every part has `origin`.
    """
    tree, problems = cond.parse_conditions(require)
    problem = cond.fatal(problems)
    if problem is not None:
        raise MappingError(f"require: {problem.message}")
    where = locate or (lambda at: origin)
    return LoweredRequire(_conditions(tree, where), origin)


def _conditions(node: cond.AllOf, locate: Callable[[ConfigPath], Origin]) -> ConditionAll:
    return ConditionAll(tuple(_condition(item, locate) for item in node.items),
                        locate(node.at), node.kind)


def _condition(node: cond.Node, locate: Callable[[ConfigPath], Origin]) -> ConditionNode:
    if isinstance(node, cond.Leaf):
        tests = tuple(ConditionTest(t.op, json_constant(t.arg, node.key)) for t in node.tests)
        return ConditionLeaf(lower_path(node.key), tests, f"{node.key}: {_text(node.written)}")
    if isinstance(node, cond.AllOf):
        return _conditions(node, locate)
    if isinstance(node, cond.AnyOf):
        return ConditionAny(tuple(_conditions(alt, locate) for alt in node.alternatives))
    assert isinstance(node, cond.Not)
    return ConditionNot(_conditions(node.body, locate))


def _text(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def lower_path(text: str) -> PathNode:
    """A definite or indefinite path node for a path value such as `$.role.id`."""
    try:
        path = parse_path(text)
    except PathSyntaxError as exc:
        raise MappingError(f"invalid path {text!r}: {exc.reason}") from None
    if path.steps is not None:
        return DefinitePath(path.root, path.steps, text)
    return IndefinitePath(path.root, path.expression, text)


def json_constant(value: object, where: str) -> JsonValue:
    """A checked deep copy of a JSON value (finite numbers, string keys)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MappingError(f"{where}: {value!r} is not a JSON number")
        return float(value)
    if isinstance(value, list):
        return [json_constant(item, where) for item in value]
    if isinstance(value, Mapping):
        copied: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MappingError(f"{where}: key {key!r} is not a string")
            copied[key] = json_constant(item, where)
        return copied
    raise MappingError(f"{where}: a {type(value).__name__} is not a JSON value")


def _object(mapping: object, where: str) -> ObjectNode:
    if not isinstance(mapping, Mapping):
        raise MappingError(f"{where}: a mapping is an object")
    entries: list[Entry] = []
    seen: set[str] = set()
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise MappingError(f"{where}: key {key!r} is not a string")
        name = output_key(key)
        if not name:
            raise MappingError(f"{where}: key {key!r} gives an empty output key")
        if name in seen:
            raise MappingError(f"{where}: two keys give the output key {name!r}")
        seen.add(name)
        entries.append(Entry(name, _value(key, value, f"{where}.{name}")))
    return ObjectNode(tuple(entries))


def _value(key: str, value: object, where: str) -> Node:
    if key.endswith(PATH_SUFFIX):
        if not isinstance(value, str) or not value.startswith("$"):
            raise MappingError(f"{where}: the value of a `.$` key is a path starting with `$`")
        return lower_path(value)
    return _template(value, where)


def _template(value: object, where: str) -> Node:
    """A value under a key without `.$`: objects are mappings in turn, also inside lists."""
    if isinstance(value, Mapping):
        return _object(value, where)
    if isinstance(value, list) and _holds_object(value):
        return ListNode(tuple(_template(item, f"{where}[{i}]") for i, item in enumerate(value)))
    return Constant(json_constant(value, where))


def _holds_object(value: list[object]) -> bool:
    return any(
        isinstance(item, Mapping) or (isinstance(item, list) and _holds_object(item))
        for item in value
    )
