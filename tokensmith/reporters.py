"""Render findings for people and for CI: text with a caret, JSON, GitHub annotations, SARIF.

Every reporter takes the same sorted list of `Diagnostic`s and the `SourceMap` they point into,
so any verb that produces findings (`check`, `compile`, `test`) can print them the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tokensmith import __version__
from tokensmith.schema.codes import Code
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap

FORMATS = ("text", "json", "github", "sarif")
#: How `one_line` spells the commonest control characters.
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: The longest part of a source line the text format shows (a one-line config can be megabytes).
MAX_SOURCE_WIDTH = 120

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(fmt: str, diagnostics: Sequence[Diagnostic], source_map: SourceMap) -> str:
    """The findings in format `fmt` (one of `FORMATS`), ending with a newline unless empty."""
    renderers: dict[str, Callable[[Sequence[Diagnostic], SourceMap], str]] = {
        "text": render_text,
        "json": render_json,
        "github": render_github,
        "sarif": render_sarif,
    }
    return renderers[fmt](diagnostics, source_map)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    """`2 errors, 1 warning`."""
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def render_text(diagnostics: Sequence[Diagnostic], source_map: SourceMap) -> str:
    """`file:line:col: CODE message`, the source line, a caret under the column, the hint."""
    cuts = _secret_cuts(diagnostics)
    blocks = []
    for d in diagnostics:
        lines = [f"{d.location}: {d.code} {one_line(d.message)}"]
        source = source_map.source_line(d.location)
        column = d.location.column
        cut = cuts.get((d.location.file, d.location.line))
        if source is not None and cut is not None:
            source, column = source[: cut - 1] + "***", min(column, cut)
        if source is not None:
            source, column = _window(source, column)
            # tabs keep their width in the caret line so the caret stays under the column
            pad = "".join("\t" if c == "\t" else " " for c in source[: column - 1])
            lines += [f"    {source}", f"    {pad}^"]
        if d.hint:
            lines.append(f"    hint: {one_line(d.hint)}")
        blocks.append("\n".join(lines) + "\n")
    return "".join(blocks)


def one_line(text: str) -> str:
    """`text` safe to print as (part of) one line of a CI log: every control or format
    character and line or paragraph separator becomes an escape (`\\n`, `\\u2028`).

    CI runners read commands from lines of output (GitHub's `::error`, `::add-mask::`), so a
    line break inside a value from a config or a token would let that value write one.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _secret_cuts(diagnostics: Sequence[Diagnostic]) -> dict[tuple[str, int], int]:
    """(file, line) -> the column of the first possible secret on it. Every finding shown on
    such a line is cut there, not only the one about the secret."""
    cuts: dict[tuple[str, int], int] = {}
    for d in diagnostics:
        if d.secret_at is not None:
            where = (d.secret_at.file, d.secret_at.line)
            cuts[where] = min(cuts.get(where, d.secret_at.column), d.secret_at.column)
    return cuts


def _window(source: str, column: int) -> tuple[str, int]:
    """At most `MAX_SOURCE_WIDTH` characters of a long line (one-line JSON configs), around
    `column`, with `...` where it is cut; and the column within what is shown."""
    if len(source) <= MAX_SOURCE_WIDTH:
        return source, column
    start = max(0, min(column - 1 - MAX_SOURCE_WIDTH // 3, len(source) - MAX_SOURCE_WIDTH))
    end = start + MAX_SOURCE_WIDTH
    before = "..." if start > 0 else ""
    after = "..." if end < len(source) else ""
    return before + source[start:end] + after, column - start + len(before)


def render_json(diagnostics: Sequence[Diagnostic], source_map: SourceMap) -> str:
    """One JSON document: findings and counts."""
    findings = [
        {
            "code": d.code,
            "severity": d.severity.value,
            "message": d.message,
            "hint": d.hint,
            "file": d.location.file,
            "line": d.location.line,
            "column": d.location.column,
        }
        for d in diagnostics
    ]
    errors = sum(d.is_error for d in diagnostics)
    document = {
        "version": 1,
        "findings": findings,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
    }
    return json.dumps(document, indent=2) + "\n"


def render_github(diagnostics: Sequence[Diagnostic], source_map: SourceMap) -> str:
    """GitHub Actions workflow commands: one `::error` or `::warning` line per finding."""
    lines = []
    for d in diagnostics:
        command = "error" if d.is_error else "warning"
        loc = d.location
        props = ",".join(
            f"{name}={_escape_property(str(value))}"
            for name, value in (
                ("file", loc.file), ("line", loc.line), ("col", loc.column), ("title", d.code)
            )
        )  # fmt: skip
        text = d.message if not d.hint else f"{d.message} ({d.hint})"
        lines.append(f"::{command} {props}::{_escape_data(text)}\n")
    return "".join(lines)


def render_sarif(diagnostics: Sequence[Diagnostic], source_map: SourceMap) -> str:
    """A SARIF 2.1.0 log with one run; each code that occurs is a rule of the driver, described
    from the catalogue."""
    entries = sorted({d.entry for d in diagnostics}, key=lambda entry: entry.id)
    index = {entry.id: i for i, entry in enumerate(entries)}
    rules = [sarif_rule(entry) for entry in entries]
    results = [_sarif_result(d, index[d.code]) for d in diagnostics]
    log: dict[str, Any] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tokensmith",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def sarif_rule(entry: Code) -> dict[str, Any]:
    """The SARIF `reportingDescriptor` of a catalogued code. `helpUri` is relative to the root of
    the tokensmith repository (see `docs/diagnostics.md`)."""
    help_markdown = f"{entry.help}\n\n[{entry.id} in docs/diagnostics.md]({entry.help_uri})"
    return {
        "id": entry.id,
        "shortDescription": {"text": _plain(entry.title)},
        "fullDescription": {"text": _plain(entry.help), "markdown": entry.help},
        "help": {"text": _plain(entry.help), "markdown": help_markdown},
        "helpUri": entry.help_uri,
        # `error` and `warning` are SARIF levels as they are
        "defaultConfiguration": {"level": entry.severity.value},
    }


def _plain(markdown: str) -> str:
    # code spans are the only Markdown the catalogue writes: dropping their backticks is enough
    return markdown.replace("`", "")


def _sarif_result(d: Diagnostic, rule_index: int) -> dict[str, Any]:
    text = d.message if not d.hint else f"{d.message} ({d.hint})"
    return {
        "ruleId": d.code,
        "ruleIndex": rule_index,
        "level": d.severity.value,
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(d.location.file)},
                    "region": {"startLine": d.location.line, "startColumn": d.location.column},
                }
            }
        ],
    }


def _uri(path: str) -> str:
    """A URI for a display path: relative as given (code scanning resolves it against the
    checkout), or `file://` when absolute."""
    if os.path.isabs(path):
        return Path(path).as_uri()
    return quote(path.replace("\\", "/").removeprefix("./"))


def _escape_data(text: str) -> str:
    # GitHub's escaping of workflow command data (actions/toolkit, command.ts)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
