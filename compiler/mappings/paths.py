"""JSONPath values of mappings and `require` keys: parsing, validation, classification.

The dialect is jsonpath-ng's extended parser (`jsonpath_ng.ext.parse`), restricted to the
RFC 9535-like core that `docs/mappings.md` documents: names (`.name`, `['any name']`), indexes
(`[0]`, `[-1]`), wildcards (`*`), slices (`[1:3]`), filters (`[?(@.x == 'y')]`), name and
index unions (`['a','b']`, `[0,1]`) and recursive descent (`..`). jsonpath-ng's other
extensions (`where`, `|`, `&`, backquoted operators, arithmetic, sorting) and its deprecated
syntax are refused with a reason.

A path is *definite* when it has only single names and single indexes: it yields one value or
nothing. Any other path is *indefinite* and yields the list of its matches.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from jsonpath_ng import jsonpath as jp
from jsonpath_ng.ext import filter as jp_filter
from jsonpath_ng.ext.parser import parse as jp_parse

from tokensmith.runtime.mapping_api import compile_path
from tokensmith.schema.errors import BuildError

PathRoot = Literal["input", "context"]
Step = str | int


_STEP_NODES = (jp.Fields, jp.Index, jp.Wildcard, jp.Slice, jp_filter.Filter)
_FILTER_NODES = (
    jp.Root,
    jp.This,
    jp.Child,
    jp.Descendants,
    jp.Fields,
    jp.Index,
    jp.Wildcard,
    jp.Slice,
    jp_filter.Filter,
    jp_filter.Expression,
    jp_filter.And,
    jp_filter.Or,
)
_POSITION = re.compile(r"(?:col |at \d+:)(\d+)")


class PathSyntaxError(BuildError, ValueError):
    """A path that does not parse or uses syntax outside the supported dialect.

    `offset` is the 0-based position of the offending character in the written text
    (including both `$` of a `$$` path), for a caret under it.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True)
class JsonPath:
    """A validated path. `steps` is set only for definite paths."""

    text: str
    root: PathRoot
    #: The text jsonpath-ng parses: `text` itself, or `text` without its first `$` for `$$`.
    expression: str
    steps: tuple[Step, ...] | None
    #: The first step when it is a single name (also for indefinite paths like `$.a[*]`).
    head: str | None
    #: Whether the path uses recursive descent (`..`).
    recursive: bool
    #: Offset of the first step that selects object members without naming each one (`*`, a
    #: filter, a union of names) when a named step follows it, as in `$.*.role`; else None.
    widening: int | None = None

    @property
    def definite(self) -> bool:
        return self.steps is not None


def parse_path(text: str) -> JsonPath:
    """Parse and classify a path value such as `$.role.id` or `$$.service`.

    Raises `PathSyntaxError` with the parser's reason and the offset of the offending character.
    """
    if not text.startswith("$"):
        raise PathSyntaxError("a path starts with `$` (the input) or `$$` (the context)", 0)
    bad = next((i for i, ch in enumerate(text) if ch in "\r\n" or not ch.isprintable()), None)
    if bad is not None:
        raise PathSyntaxError("a path cannot contain a line break or control character", bad)
    root: PathRoot = "context" if text.startswith("$$") else "input"
    shift = 1 if root == "context" else 0
    try:
        return _parse_expression(text[shift:], root, text)
    except PathSyntaxError as exc:
        raise PathSyntaxError(exc.reason, exc.offset + shift) from None


def find_values(path: JsonPath, data: Any) -> list[Any]:
    """All values `path` matches in `data`, in document order: what generated code computes."""
    return _finder(path.expression)(data)


@functools.lru_cache(maxsize=8192)
def _parse_expression(expression: str, root: PathRoot, text: str) -> JsonPath:
    node = _parsed_checked(expression)
    chain = list(_flatten(node))
    if not isinstance(chain[0], jp.Root):
        raise PathSyntaxError(_unsupported(chain[0]), _offset_of(expression, chain[0]))
    body = chain[1:]
    for part in body:
        if part is not _DESCENT and not isinstance(part, _STEP_NODES):
            raise PathSyntaxError(_unsupported(part), _offset_of(expression, part))
        if isinstance(part, jp_filter.Filter):
            _check_filter(part, expression)
    recursive = _DESCENT in body
    head = None
    if body and isinstance(body[0], jp.Fields) and len(body[0].fields) == 1:
        head = body[0].fields[0]
    widening = _widening(body, text)
    return JsonPath(text, root, expression, _definite_steps(body), head, recursive, widening)


def _parsed_checked(expression: str) -> jp.JSONPath:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            node = jp_parse(expression)
        except Exception as exc:  # the parser raises several types; all mean "does not parse"
            raise PathSyntaxError(_reason(exc), _error_offset(exc, expression)) from None
    if caught:
        # jsonpath-ng still accepts some syntax that it deprecates: refuse it now.
        text = str(caught[0].message).split(". ")[0]
        message = f"{text[:1].lower()}{text[1:]}; write it the RFC 9535 way"
        marker = "|" if "`|`" in message else "&" if "`&`" in message else ""
        raise PathSyntaxError(message, max(expression.find(marker), 0) if marker else 0)
    return node


@functools.lru_cache(maxsize=8192)
def _finder(expression: str) -> Callable[[Any], list[Any]]:
    # The runtime's own evaluator, so that explain and the reference interpreter cannot differ
    # from a bundle in how a path finds values; parsed once per expression.
    return compile_path(expression)


class _Descent:
    """Marks `..` in a flattened chain."""


_DESCENT = _Descent()


def _flatten(node: jp.JSONPath) -> Iterator[object]:
    if isinstance(node, jp.Child):
        yield from _flatten(node.left)
        yield from _flatten(node.right)
    elif isinstance(node, jp.Descendants):
        yield from _flatten(node.left)
        yield _DESCENT
        yield from _flatten(node.right)
    else:
        yield node


def _definite_steps(body: list[object]) -> tuple[Step, ...] | None:
    steps: list[Step] = []
    for part in body:
        if isinstance(part, jp.Fields) and len(part.fields) == 1:
            steps.append(part.fields[0])
        elif isinstance(part, jp.Index) and len(part.indices) == 1:
            steps.append(part.indices[0])
        else:
            return None
    return tuple(steps)


def _widening(body: list[object], text: str) -> int | None:
    """Where a path first selects members it does not name, if a named step comes after.

    Such a path picks `role` out of whatever objects are there, including ones users write
    themselves (Supabase's `user_metadata`). A slice never selects object members.
    """
    for position, part in enumerate(body):
        if isinstance(part, jp.Wildcard):
            marker = "*"
        elif isinstance(part, jp_filter.Filter):
            marker = "[?"
        elif isinstance(part, jp.Fields) and len(part.fields) > 1:
            marker = ","
        else:
            continue
        if any(isinstance(later, jp.Fields) for later in body[position + 1 :]):
            found = text.find(marker)
            if marker == ",":
                found = text.rfind("[", 0, found)
            return max(found, 0)
    return None


def _check_filter(node: object, expression: str) -> None:
    stack = [node]
    while stack:
        part = stack.pop()
        if not isinstance(part, _FILTER_NODES):
            raise PathSyntaxError(_unsupported(part), _offset_of(expression, part))
        if isinstance(part, jp.Child | jp.Descendants):
            stack.extend((part.left, part.right))
        elif isinstance(part, jp_filter.Filter):
            stack.extend(part.expressions)
        elif isinstance(part, jp_filter.Expression):
            if part.op == "=~":
                # A pattern from the config run on attacker-chosen text: a ReDoS waiting to happen.
                reason = "the regular expression operator `=~` is not supported"
                raise PathSyntaxError(reason, max(expression.find("=~"), 0))
            stack.append(part.target)
            if isinstance(part.value, jp.JSONPath):
                stack.append(part.value)
        elif isinstance(part, jp_filter.And | jp_filter.Or):
            stack.extend(part.operands)


_UNSUPPORTED = {
    "Where": "`where` is not supported",
    "WhereNot": "`wherenot` is not supported",
    "_Union": "the `|` operator is not supported; use ['a','b'] for several names",
    "_Intersect": "the `&` operator is not supported",
    "Parent": "`parent` is not supported",
    "Operation": "arithmetic is not supported",
    "This": "`@` is only allowed inside a filter",
    "Root": "`$` is only allowed at the start or inside a filter",
}
_OPERATORS = ("Len", "Keys", "Path", "SortedThis", "Split", "Sub", "Str")
_MARKERS = {"Where": "where", "WhereNot": "wherenot", "_Union": "|", "_Intersect": "&"}


def _unsupported(node: object) -> str:
    name = type(node).__name__
    if name in _OPERATORS:
        return f"the operator {node} is not supported"
    return _UNSUPPORTED.get(name, f"{name} is not supported")


def _offset_of(expression: str, node: object) -> int:
    marker = _MARKERS.get(type(node).__name__) or ("`" if "`" in expression else "")
    found = expression.find(marker) if marker else -1
    return max(found, 0)


_LEXER_ERROR = re.compile(
    r"Error on line \d+, col \d+(?: while lexing .*?)?: Unexpected character: (.)"
)
_PARSER_ERROR = re.compile(r"Parse error at \d+:\d+ near token (.*) \((\w+)\)$")


def _reason(exc: Exception) -> str:
    """The parser's reason, in the words of our messages (it names the offending token)."""
    text = str(exc).strip()
    lexer = _LEXER_ERROR.match(text)
    if lexer is not None:
        return f"unexpected character {lexer.group(1)!r} (quote other names: $['name'])"
    parser = _PARSER_ERROR.match(text)
    if parser is not None:
        return f"unexpected {parser.group(1)!r}"
    if text.startswith("Parse error near the end of string"):
        return "the path ends too early"
    if text.startswith("Unexpected EOF in string literal"):
        return "a quoted name is not closed"
    return text or type(exc).__name__


def _error_offset(exc: Exception, expression: str) -> int:
    found = _POSITION.search(str(exc))
    if found is not None:
        return min(int(found.group(1)), len(expression))
    return len(expression)  # "near the end of string", "unexpected EOF in string literal"
