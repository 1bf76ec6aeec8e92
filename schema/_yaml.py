"""One YAML text -> plain JSON-like data with the location of every key and value.

We compose the YAML into nodes (which carry their positions) and build the data ourselves instead
of letting a constructor do it. That is much faster than ruamel's round-trip loader; it gives
every scalar its YAML 1.2 core schema meaning whichever parser composed it (`yes` is a string,
`2024-01-01` is a string, never a datetime); and it refuses, with located diagnostics, what a
config should never contain: aliases (which also rules out "billion laughs" expansion), merge
keys, duplicate keys, non-string keys and tags that have no JSON meaning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ._compose import YamlProblem, compose
from ._gc import gc_paused
from .codes import E102, E104, E105, E108, E109, E110, E111, Code
from .diagnostics import SECRET_FIELDS, Diagnostic, looks_secret
from .location import ConfigPath, Location

#: Deeper nesting than this is refused: no real config needs it and it bounds recursion.
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
#: Tags a parser gives plain scalars by itself; their meaning is re-derived below (YAML 1.2).
_IMPLICIT = frozenset(
    _TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "value")
)
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
#: `key: value` (or `- key: value`) at the start of a line, for lines that did not parse.
_KEY_VALUE_LINE = re.compile(r"\s*(?:-\s+)*[\"']?([\w.-]+)[\"']?\s*:\s+(?=\S)")


@dataclass
class ParsedText:
    """The result of parsing one file: data (None when unusable), locations, findings."""

    data: Any = None
    keys: dict[ConfigPath, Location] = field(default_factory=dict)
    values: dict[ConfigPath, Location] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse_yaml(text: str, file: str) -> ParsedText:
    """Parse one YAML document; syntax errors and refused constructs become diagnostics."""
    with gc_paused():
        return _parse(text, file)


def _parse(text: str, file: str) -> ParsedText:
    out = ParsedText()
    try:
        root = compose(text)
    except YamlProblem as problem:
        where = Location(file, problem.line, problem.column)
        secret_at = _secret_value_on_line(text, where)
        out.diagnostics.append(
            Diagnostic(problem.code, problem.message, where, problem.hint, secret_at=secret_at)
        )
        return out
    if root is None:
        msg = "the file is empty: expected a mapping with at least `version: 1`"
        out.diagnostics.append(Diagnostic(E104, msg, Location(file, 1, 1)))
        return out
    if root.id != "mapping":
        msg = f"the top level must be a mapping of fields, found {_kind(root)}"
        out.diagnostics.append(Diagnostic(E105, msg, _loc(root, file)))
        return out
    out.values[()] = _loc(root, file)
    out.data = _Walker(file, out).node(root, (), 0)
    return out


class _Walker:
    def __init__(self, file: str, out: ParsedText) -> None:
        self.file = file
        self.out = out
        # An alias is the same node object met a second time: stop there, never expand it.
        self.seen: set[int] = set()

    def fail(
        self, code: Code, message: str, node: Any, path: ConfigPath, hint: str | None = None,
        value: Any = None,
    ) -> None:
        """A finding at `node`, met at `path`. Under a field that may hold a secret, its source
        line is cut where `value` (by default `node`) starts."""
        where = _loc(node, self.file)
        secret_at = _loc(value or node, self.file) if _under_secret(path) else None
        self.out.diagnostics.append(Diagnostic(code, message, where, hint, secret_at=secret_at))

    def node(self, node: Any, path: ConfigPath, depth: int) -> Any:
        if id(node) in self.seen:
            self.fail(E108, "this value is used again through a YAML alias; aliases are not "
                      "supported in a config", node, path,
                      "write the value out in full where it is used")
            return None
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            self.fail(E111, f"the YAML is nested more than {MAX_DEPTH} levels deep", node, path)
            return None
        if node.id == "mapping":
            return self.mapping(node, path, depth)
        if node.id == "sequence":
            return self.sequence(node, path, depth)
        return self.scalar(node, path)

    def sequence(self, node: Any, path: ConfigPath, depth: int) -> list[Any]:
        if node.tag != _TAG + "seq":
            self.bad_tag(node, path)
            return []
        items = []
        for index, item in enumerate(node.value):
            self.out.values[(*path, index)] = _loc(item, self.file)
            items.append(self.node(item, (*path, index), depth + 1))
        return items

    def mapping(self, node: Any, path: ConfigPath, depth: int) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            self.bad_tag(node, path)
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                first = self.out.keys[child]
                self.fail(E102, f"duplicate key '{key}': it is already set on line {first.line}",
                          key_node, child, "a YAML mapping holds each key once; remove one "
                          "of them", value=value_node)
                continue
            key_at = self.out.keys[child] = _loc(key_node, self.file)
            # a plain empty value is positioned where the next line starts: use its key
            empty = value_node.id == "scalar" and value_node.value == "" and not value_node.style
            self.out.values[child] = key_at if empty else _loc(value_node, self.file)
            result[key] = self.node(value_node, child, depth + 1)
        return result

    def key(self, node: Any, path: ConfigPath) -> str | None:
        if node.tag == _TAG + "merge" or (node.value == "<<" and not node.style):
            self.fail(E108, "YAML merge keys (`<<`) are not supported in a config", node, path,
                      "write the fields out in full")
            return None
        if node.id != "scalar":
            self.fail(E109, f"a key must be a plain string, found {_kind(node)}", node, path)
            return None
        value = self.scalar(node, path)
        if not isinstance(value, str):
            self.fail(E109, f"a key must be a string, found {_kind(node)}", node, path,
                      f"quote it: '{node.value}'")
            return None
        return value

    def scalar(self, node: Any, path: ConfigPath) -> Any:
        text: str = node.value
        if node.style:  # quoted or block: a string, unless tagged as something else
            return text if node.tag == _TAG + "str" else self.bad_tag(node, path)
        if node.tag not in _IMPLICIT:
            return self.bad_tag(node, path)
        try:
            value = plain_scalar(text)
        except ValueError:  # more digits than `int()` converts (sys.get_int_max_str_digits)
            self.fail(E110, "the number has too many digits to be a JSON number", node, path)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(E110, "infinity and NaN are not JSON numbers", node, path)
            return None
        return value

    def bad_tag(self, node: Any, path: ConfigPath) -> None:
        tag = str(node.tag).replace(_TAG, "!!")
        self.fail(E110, f"unsupported YAML tag {tag}", node, path,
                  "use plain strings, numbers, booleans, lists and mappings; "
                  "secrets are written {env: NAME}, {file: PATH} or {encrypted: TEXT}")


def plain_scalar(text: str) -> Any:
    """The value of a plain (unquoted) scalar under the YAML 1.2 core schema.

    Raises ValueError for a decimal integer longer than Python converts (4300 digits by default).
    """
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _SPECIAL_FLOAT.fullmatch(text):
        return math.nan  # refused by the caller
    return text


def _secret_value_on_line(text: str, where: Location) -> Location | None:
    """For a line that did not parse (a secret starting with `@` or holding `: `, say): where
    its value starts when it reads as `key: value` and the key looks like a secret's."""
    lines = text.splitlines()
    line = lines[where.line - 1] if 0 < where.line <= len(lines) else ""
    match = _KEY_VALUE_LINE.match(line)
    if match is None or not looks_secret(match.group(1)):
        return None
    return Location(where.file, where.line, match.end() + 1)


def _under_secret(path: ConfigPath) -> bool:
    """True for a value of a field that may hold a secret, or anywhere inside a secret field."""
    last = path[-1] if path else None
    return (isinstance(last, str) and looks_secret(last)) or any(
        part in SECRET_FIELDS for part in path
    )


def _loc(node: Any, file: str) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


def _kind(node: Any) -> str:
    if node.id == "mapping":
        return "a mapping"
    if node.id == "sequence":
        return "a list"
    if node.style:
        return "a string"
    try:
        value = plain_scalar(node.value)
    except ValueError:
        return "a number"
    kinds = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}
    return kinds.get(type(value), "a scalar")
