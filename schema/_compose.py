"""YAML text -> a node tree with positions, through libyaml when it is there, else ruamel.yaml.

Composing (not constructing) keeps every node's start mark and leaves the meaning of scalars to
`_yaml.py`, which applies the YAML 1.2 core schema itself: so both parsers give the same data.
libyaml (PyYAML's `CSafeLoader`) composes about fifteen times faster than ruamel's pure-Python
parser, which is most of the time `check` takes on a large config; ruamel.yaml is the fallback
that is always installed. Parse failures of either become one `YamlProblem`.
"""

from __future__ import annotations

import importlib
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import error as ruamel_error
from ruamel.yaml import reader as ruamel_reader

from .codes import E101, E111, Code
from .errors import BuildError


def _libyaml() -> Any:
    try:
        module = importlib.import_module("yaml")  # PyYAML, optional
    except ImportError:
        return None
    return module if getattr(module, "CSafeLoader", None) is not None else None


#: PyYAML with libyaml, or None. Tests set it to None to exercise the ruamel.yaml path.
LIBYAML: Any = _libyaml()


class YamlProblem(BuildError):
    """The text is not one well-formed YAML document. Line and column are 1-based."""

    def __init__(
        self, message: str, line: int, column: int, hint: str | None = None, code: Code = E101
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        #: the finding's code: E101 syntax, E111 nesting too deep
        self.code = code


def compose(text: str) -> Any:
    """The root node of `text` (None for an empty document); raises `YamlProblem`."""
    if LIBYAML is not None:
        return _compose_libyaml(text, LIBYAML)
    try:
        return YAML(typ="safe", pure=True).compose(text)
    except ruamel_error.MarkedYAMLError as exc:
        raise _marked(exc, text) from None
    except ruamel_reader.ReaderError as exc:
        raise _reader(text, exc.position, exc.character) from None
    except ruamel_error.YAMLError as exc:
        raise YamlProblem(f"YAML error: {_first_line(exc)}", 1, 1) from None
    except RecursionError:
        raise YamlProblem("the YAML is nested too deeply", 1, 1, code=E111) from None


def _compose_libyaml(text: str, yaml: Any) -> Any:
    try:
        return yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc, text) from None
    except yaml.reader.ReaderError as exc:
        # libyaml reads UTF-8 bytes: its position is a byte offset
        chars = len(text.encode("utf-8")[: exc.position].decode("utf-8", "ignore"))
        raise _reader(text, chars, exc.character) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML error: {_first_line(exc)}", 1, 1) from None


def _marked(exc: Any, text: str) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = str(exc.problem or exc.context or "invalid YAML")
    if exc.context and exc.problem:
        problem = f"{problem} ({exc.context})"
    if "nesting depth" in problem:
        return YamlProblem("the YAML is nested too deeply", line, column, code=E111)
    hint = _hint(exc, text, line, column)
    return YamlProblem(f"YAML syntax error: {problem}", line, column, hint)


def _hint(exc: Any, text: str, line: int, column: int) -> str | None:
    """A plain-words hint for the parse errors people hit most (same for both parsers)."""
    lines = text.splitlines()
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in here[: column + 1]:
        return "YAML indents with spaces, never tabs"
    if "block" in str(exc.context):
        return "check the indentation of this line against the lines above it"
    start = exc.context_mark
    if start is not None and (start.line + 1, start.column + 1) != (line, column):
        what = next((name for key, name in _CONSTRUCTS if key in str(exc.context)), "value")
        return f"the {what} started at line {start.line + 1}, column {start.column + 1}"
    return None


_CONSTRUCTS = (
    ("quoted scalar", "quoted string"),
    ("flow sequence", "list"),
    ("flow mapping", "mapping"),
)


def _reader(text: str, offset: int, character: Any) -> YamlProblem:
    code = character if isinstance(character, int) else ord(character)
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    message = f"the file contains a character YAML does not allow (#x{code:04x})"
    return YamlProblem(message, line, column)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
