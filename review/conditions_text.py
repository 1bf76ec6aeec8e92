"""`require` conditions as a person reads them: the lines of `explain` and of `diff`.

`explain` shows every condition and every part of one (under `any_of`, `all_of`, `not`) with
its verdict and the values its path found; a claim value is shown (explain is a local tool for
the token's own holder or operator), shortened when long, and secrets never reach here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tokensmith.compiler.mappings.interpreter import Verdict

from .flatten import as_json

if TYPE_CHECKING:
    from .explain import Check

#: Longest value text shown for what a path found.
SHOWN_CHARACTERS = 120


def wanted(written: Any) -> str:
    """`"a"`, `one of ["a", "b"]`, `glob "x*" and gte 3`, `present`: what a leaf asks for."""
    if isinstance(written, list):
        return "one of " + as_json(written)
    if isinstance(written, dict):
        parts = []
        for op, arg in written.items():
            if op == "exists":
                parts.append("present" if arg is True else "absent")
            else:
                parts.append(f"{op} {as_json(arg)}")
        return " and ".join(parts)
    return as_json(written)


def shown(value: Any) -> str:
    """A found value as one line of JSON, shortened past `SHOWN_CHARACTERS`."""
    text = as_json(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}... ({len(text)} characters)"


def condition_checks(verdicts: Sequence[Verdict], prefix: str) -> list[Check]:
    """One check per condition and per part of one, in the order written."""
    return list(_checks(verdicts, prefix, 0))


def _checks(verdicts: Sequence[Verdict], prefix: str, depth: int) -> Iterator[Check]:
    from .explain import Check

    for verdict in verdicts:
        mark = "ok" if verdict.holds else "failed"
        if verdict.is_leaf:
            found = ", ".join(shown(m) for m in verdict.matches) or "nothing"
            yield Check(f"{prefix} {verdict.path}", mark,
                        f"wants {wanted(verdict.expected)}, found {found}", depth)
            continue
        children = verdict.children
        if verdict.path == "not":
            inner = "do not all hold" if verdict.holds else "all hold"
            yield Check(f"{prefix} not", mark, f"the conditions under it {inner}", depth)
            yield from _checks(children[0].children, prefix, depth + 1)
            continue
        held = sum(child.holds for child in children)
        what = "alternatives" if verdict.path == "any_of" else "conditions objects"
        yield Check(f"{prefix} {verdict.path}", mark, f"{held} of {len(children)} {what} hold",
                    depth)
        for index, child in enumerate(children):
            state = "holds" if child.holds else "does not hold"
            yield Check(f"{prefix} {verdict.path}[{index}]", "ok" if child.holds else "failed",
                        state, depth + 1)
            yield from _checks(child.children, prefix, depth + 2)


def first_failed(verdicts: Sequence[Verdict], prefix: str) -> str:
    """The name of the first top-level condition that does not hold (the failed check)."""
    failed = next((v.path for v in verdicts if not v.holds), "")
    return f"{prefix} {failed}".strip()
