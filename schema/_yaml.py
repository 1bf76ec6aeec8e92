"""One YAML text -> plain JSON-like data with the location of every key and value.

We compose the YAML into nodes (which carry their positions) and build the data ourselves instead
of letting a constructor do it: that is faster than ruamel's round-trip loader, it turns every
scalar into a plain JSON type (YAML 1.2 core schema; timestamps stay strings), and it lets us
refuse what a config should never contain (anchors and aliases, which also rules out "billion
laughs" expansion; duplicate keys; non-string keys; custom tags) with located diagnostics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from .diagnostics import Diagnostic, error
from .location import ConfigPath, Location

#: Deeper nesting than this is refused: no real config needs it and it bounds recursion.
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"


@dataclass
class ParsedText:
    """The result of parsing one file: data (None when unusable), locations, findings."""

    data: Any = None
    keys: dict[ConfigPath, Location] = field(default_factory=dict)
    values: dict[ConfigPath, Location] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse_yaml(text: str, file: str) -> ParsedText:
    """Parse one YAML document; syntax errors and refused constructs become diagnostics."""
    out = ParsedText()
    try:
        root = YAML(typ="safe", pure=True).compose(text)
    except MarkedYAMLError as exc:
        out.diagnostics.append(_syntax_error(exc, file))
        return out
    except ReaderError as exc:  # a control character; carries an offset, not a mark
        where = _offset_location(text, file, exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        msg = f"the file contains a character YAML does not allow (#x{char:04x})"
        out.diagnostics.append(error("E101", msg, where))
        return out
    except YAMLError as exc:
        out.diagnostics.append(error("E101", f"YAML error: {_first_line(exc)}", Location(file, 1, 1)))
        return out
    except RecursionError:
        where = Location(file, 1, 1)
        out.diagnostics.append(error("E111", "the YAML is nested too deeply", where))
        return out
    if root is None:
        where = Location(file, 1, 1)
        msg = "the file is empty: expected a mapping with at least `version: 1`"
        out.diagnostics.append(error("E104", msg, where))
        return out
    if not isinstance(root, MappingNode):
        where = _loc(root, file)
        msg = f"the top level must be a mapping of fields, found {_kind(root)}"
        out.diagnostics.append(error("E105", msg, where))
        return out
    walker = _Walker(file, out)
    out.values[()] = _loc(root, file)
    out.data = walker.node(root, (), 0)
    return out


class _Walker:
    def __init__(self, file: str, out: ParsedText) -> None:
        self.file = file
        self.out = out

    def fail(self, code: str, message: str, node: Node, hint: str | None = None) -> None:
        self.out.diagnostics.append(error(code, message, _loc(node, self.file), hint))

    def node(self, node: Node, path: ConfigPath, depth: int) -> Any:
        if node.anchor is not None:
            # An anchor is only useful with an alias; refusing both keeps one place per value.
            self.fail("E108", "YAML anchors and aliases are not supported in a config", node,
                      "write the value out in full where it is used")
            return None
        if depth > MAX_DEPTH:
            self.fail("E111", f"the YAML is nested more than {MAX_DEPTH} levels deep", node)
            return None
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                return self.bad_tag(node)
            items = []
            for index, item in enumerate(node.value):
                self.out.values[(*path, index)] = _loc(item, self.file)
                items.append(self.node(item, (*path, index), depth + 1))
            return items
        return self.scalar(node)

    def mapping(self, node: MappingNode, path: ConfigPath, depth: int) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            self.bad_tag(node)
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                first = self.out.keys[child]
                self.fail("E102", f"duplicate key '{key}': it is already set on line {first.line}",
                          key_node, "a YAML mapping holds each key once; remove one of them")
                continue
            self.out.keys[child] = _loc(key_node, self.file)
            empty = isinstance(value_node, ScalarNode) and value_node.value == "" and (
                not value_node.style  # plain; a quoted '' is where it is written
            )
            # an empty value is positioned after the line ends; point at its key instead
            self.out.values[child] = self.out.keys[child] if empty else _loc(value_node, self.file)
            result[key] = self.node(value_node, child, depth + 1)
        return result

    def key(self, node: Node) -> str | None:
        if node.tag == _TAG + "merge":
            self.fail("E108", "YAML merge keys (`<<`) are not supported in a config", node,
                      "write the fields out in full")
            return None
        if not isinstance(node, ScalarNode):
            self.fail("E109", f"a key must be a plain string, found {_kind(node)}", node)
            return None
        if node.anchor is not None:
            self.fail("E108", "YAML anchors and aliases are not supported in a config", node)
            return None
        if node.tag != _TAG + "str":
            self.fail("E109", f"a key must be a string, found {_kind(node)}", node,
                      f"quote it: '{node.value}'")
            return None
        value: str = node.value
        return value

    def scalar(self, node: Node) -> Any:
        tag = node.tag
        text: str = node.value
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return text  # a timestamp stays the text the user wrote, never a datetime
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if tag == _TAG + "int":
            number = _int(text)
            if number is not None:
                return number
        if tag == _TAG + "float":
            number_f = _float(text)
            if number_f is not None:
                return number_f
            self.fail("E110", "infinity and NaN are not JSON numbers", node)
            return None
        return self.bad_tag(node)

    def bad_tag(self, node: Node) -> None:
        tag = str(node.tag).replace(_TAG, "!!")
        self.fail("E110", f"unsupported YAML tag or value type {tag}", node,
                  "use plain strings, numbers, booleans, lists and mappings; "
                  "secrets are written {env: NAME}, {file: PATH} or {encrypted: TEXT}")


def _int(text: str) -> int | None:
    clean = text.replace("_", "")
    sign = -1 if clean.startswith("-") else 1
    digits = clean.lstrip("+-")
    bases = {"0x": 16, "0o": 8, "0b": 2}
    try:
        base = bases.get(digits[:2].lower(), 10)
        return sign * int(digits[2:] if base != 10 else digits, base)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        number = float(text.replace("_", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _loc(node: Node, file: str) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    names = {"int": "a number", "float": "a number", "bool": "a boolean", "null": "null"}
    return names.get(str(node.tag).replace(_TAG, ""), "a scalar")


def _syntax_error(exc: MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        problem = f"{problem} ({exc.context})"
    return error("E101", f"YAML syntax error: {problem}", where, _syntax_hint(exc, where))


def _syntax_hint(exc: MarkedYAMLError, where: Location) -> str | None:
    """A plain-words hint for the parser errors people hit most."""
    problem = str(exc.problem or "")
    if "'\\t'" in problem:
        return "YAML indents with spaces, never tabs"
    if "block" in problem:
        return "check the indentation of this line against the lines above it"
    start = exc.context_mark
    if start is not None and (start.line + 1, start.column + 1) != (where.line, where.column):
        what = next((name for words, name in _CONSTRUCTS if words in str(exc.context)), "value")
        return f"the {what} started at line {start.line + 1}, column {start.column + 1}"
    return None


_CONSTRUCTS = (
    ("quoted scalar", "quoted string"),
    ("flow sequence", "list"),
    ("flow mapping", "mapping"),
    ("block", "block"),
)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _offset_location(text: str, file: str, offset: int) -> Location:
    before = text[:offset]
    line = before.count("\n") + 1
    return Location(file, line, offset - (before.rfind("\n") + 1) + 1)
