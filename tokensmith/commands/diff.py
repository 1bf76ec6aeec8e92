"""`tokensmith diff OLD NEW [--bundle old|new|both] [--format text|markdown|json] [--now EPOCH]`.

OLD and NEW are config files or directories; `--bundle` says which are bundle directories
(never guessed from what a directory holds, since a side may come from a pull request). A
bundle is read through its `config.json` only: a diff runs no code of either side.
The diff is information: exit 0 whatever changed; 1 when a side does not pass `check`; 2 when a side cannot be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._args import whole_epoch

if TYPE_CHECKING:
    from tokensmith.review.diff import CaseChange, Diff, FieldChange, ItemChange

TITLES = {
    "config": "Top-level settings",
    "identity_providers": "Identity providers",
    "token_providers": "Token providers",
    "signing_keys": "Signing keys",
    "signatures": "Bundle signatures (as written; `tokensmith verify` judges them)",
}
SINGULAR = {
    "config": "settings",
    "identity_providers": "identity provider",
    "token_providers": "token provider",
    "signing_keys": "signing key",
    "signatures": "bundle signature by key",
}
ABSENT = "(absent)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="semantic differences between two configs or bundles, for review",
        description="Report what changes from OLD to NEW: identity providers, token providers "
        "and signing keys field by field, and how every test case's issued claims change. "
        "Exit 0 (a diff is information), 1 when a side does not pass check, 2 on I/O errors.",
    )
    parser.add_argument("old", metavar="OLD", help="config file or directory (or bundle: --bundle)")
    parser.add_argument("new", metavar="NEW", help="config file or directory (or bundle: --bundle)")
    parser.add_argument("--bundle", choices=("old", "new", "both"),
                        help="read OLD, NEW or both as bundle directories, through their "
                        "config.json only (no code of a side is ever run)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="text (default), markdown for a pull request comment, or json")
    parser.add_argument("--now", type=whole_epoch, metavar="EPOCH",
                        help="the time the test cases are exchanged at (default: the clock)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith import __version__
    from tokensmith.reporters import render_text
    from tokensmith.review.diff import SideError, diff_sides, load_side

    sides = []
    for path, which in ((args.old, "old"), (args.new, "new")):
        bundle = args.bundle in (which, "both")
        try:
            sides.append(load_side(path, version=__version__, bundle=bundle))
        except SideError as exc:
            print(f"tokensmith diff: {exc}", file=sys.stderr)
            if exc.check is None:
                return 2
            sys.stderr.write(render_text(exc.check.diagnostics, exc.check.source_map))
            return 1
    result = diff_sides(sides[0], sides[1], None if args.now is None else float(args.now))
    renderers = {"text": render_text_diff, "markdown": render_markdown, "json": render_json}
    sys.stdout.write(renderers[args.format](result))
    return 0


# --- text ------------------------------------------------------------------------------------


def render_text_diff(diff: Diff) -> str:
    """For a terminal: one block per changed item, then the test cases."""
    from tokensmith.reporters import one_line

    lines = [f"tokensmith diff {one_line(diff.old)} -> {one_line(diff.new)}", ""]
    if not diff.items:
        lines.append("no change to the configuration")
    for item in diff.items:
        note = f" ({item.note})" if item.note else ""
        lines.append(f"{SINGULAR[item.section]} {one_line(item.name)}: {item.kind}{note}".replace(
            "settings config", "settings"))
        lines += [_text_field(item.kind, f) for f in item.fields]
    lines += ["", *_text_cases(diff.cases)]
    lines += [f"note: {one_line(note)}" for note in dict.fromkeys(diff.notes)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _text_field(kind: str, change: FieldChange) -> str:
    if kind == "added":
        return f"  + {_value(change.field)}: {_value(change.new)}"
    if kind == "removed":
        return f"  - {_value(change.field)}: {_value(change.old)}"
    effect = f" ({change.effect})" if change.effect else ""
    return f"  {_value(change.field)}: {_value(change.old)} -> {_value(change.new)}{effect}"


def _text_cases(cases: Sequence[CaseChange]) -> list[str]:
    from tokensmith.review.diff import verdict

    changed = [case for case in cases if case.changed]
    lines = [f"test cases: {len(changed)} changed, {len(cases) - len(changed)} unchanged"]
    for case in changed:
        before, after = verdict(case.old), verdict(case.new)
        name = _value(case.name)
        lines.append(f"  {name}: {_value(before)} -> {_value(after)}" if before != after
                     else f"  {name}: issued claims changed")
        lines += [f"    {_value(f.field)}: {_value(f.old)} -> {_value(f.new)}"
                  for f in case.claims]
    return lines


def _value(value: str | None) -> str:
    from tokensmith.reporters import one_line

    return ABSENT if value is None else one_line(value)


# --- markdown ---------------------------------------------------------------------------------


def render_markdown(diff: Diff) -> str:
    """For a pull request comment: a section per kind of item, tables of fields, test cases."""
    lines = ["## tokensmith diff", "", f"{_code(diff.old)} → {_code(diff.new)}", ""]
    if not diff.items:
        lines += ["No change to the configuration.", ""]
    for section, title in TITLES.items():
        items = [item for item in diff.items if item.section == section]
        if items:
            lines += [f"### {title}", ""]
            for item in items:
                lines += _markdown_item(item)
    lines += _markdown_cases(diff.cases)
    lines += [f"> **Note:** {_escape(note)}" for note in dict.fromkeys(diff.notes)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_item(item: ItemChange) -> list[str]:
    note = f" ({item.note})" if item.note else ""
    heading = f"- **{_escape(item.name)}** {item.kind}{note}" if item.section != "config" else (
        f"- {item.kind}")
    if not item.fields:
        return [heading, ""]
    if item.kind in ("added", "removed"):
        rows = ["  | field | value |", "  |---|---|"]
        rows += [f"  | {_code(f.field)} | {_code(f.new or f.old)} |" for f in item.fields]
    else:
        rows = ["  | field | old | new |", "  |---|---|---|"]
        rows += [f"  | {_code(f.field)} | {_code(f.old)} | {_code(f.new)}"
                 f"{f' ({f.effect})' if f.effect else ''} |" for f in item.fields]
    return [heading, "", *rows, ""]


def _markdown_cases(cases: Sequence[CaseChange]) -> list[str]:
    from tokensmith.review.diff import verdict

    changed = [case for case in cases if case.changed]
    lines = ["### Test cases", "",
             f"{len(changed)} changed, {len(cases) - len(changed)} unchanged.", ""]
    if not changed:
        return lines
    lines += ["| case | old | new |", "|---|---|---|"]
    lines += [f"| {_escape(c.name)} | {_code(verdict(c.old))} | {_code(verdict(c.new))} |"
              for c in changed]
    lines.append("")
    for case in changed:
        if case.claims:
            lines += [f"<details><summary>issued claims of “{_escape(case.name)}”</summary>", "",
                      "| claim | old | new |", "|---|---|---|"]
            lines += [f"| {_code(f.field)} | {_code(f.old)} | {_code(f.new)} |"
                      for f in case.claims]
            lines += ["", "</details>", ""]
    return lines


def _code(value: str | None) -> str:
    """A table cell as a code span: on one line (line breaks and other control characters
    escaped, `|` escaped for the table), fenced by one backtick more than the longest run of
    backticks in the value, so that nothing in it can end the span and be read as Markdown
    or HTML."""
    from tokensmith.reporters import one_line

    if value is None:
        return "*absent*"
    text = one_line(value).replace("|", "\\|")
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(run) for run in _BACKTICKS.findall(text)) + 1)
    return f"{fence} {text} {fence}"


_BACKTICKS = re.compile("`+")


def _escape(text: str) -> str:
    """Text outside code spans: on one line, every character Markdown could read escaped."""
    from tokensmith.reporters import one_line

    text = one_line(text)
    for char in "\\`*_[]<>|&#!~":
        text = text.replace(char, "\\" + char)
    return text


# --- json -------------------------------------------------------------------------------------


def render_json(diff: Diff) -> str:
    """One JSON document with every change and every case (changed or not)."""
    document: dict[str, Any] = {
        "old": diff.old,
        "new": diff.new,
        "changes": [_item_json(item) for item in diff.items],
        "tests": [_case_json(case) for case in diff.cases],
        "notes": list(dict.fromkeys(diff.notes)),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _item_json(item: ItemChange) -> dict[str, Any]:
    return {"section": item.section, "name": item.name, "kind": item.kind, "note": item.note,
            "fields": [_field_json(f) for f in item.fields]}


def _field_json(change: FieldChange) -> dict[str, Any]:
    return dataclasses.asdict(change)


def _case_json(case: CaseChange) -> dict[str, Any]:
    from tokensmith.review.diff import verdict

    return {"name": case.name, "changed": case.changed, "old": verdict(case.old),
            "new": verdict(case.new), "claims": [_field_json(f) for f in case.claims]}
