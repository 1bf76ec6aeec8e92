"""Findings about a config: a catalogued code, a message and a location.

Every finding is built from an entry of the catalogue (`codes.py`), which gives its stable code
and its severity: `Diagnostic(E342, message, location, hint)`. `docs/diagnostics.md` lists every
code.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .codes import Code
from .codes import Severity as Severity  # re-exported: readers of findings compare with it
from .location import Location


@dataclass(frozen=True)
class Diagnostic:
    """One finding of the catalogued code `entry`. `hint` is an optional second sentence, such
    as a did-you-mean.

    `secret_at`, on the finding's own line, is where a value that may be a secret starts: a
    reporter that shows the source line never shows the text from there on.
    """

    entry: Code
    message: str
    location: Location
    hint: str | None = None
    secret_at: Location | None = None

    @property
    def code(self) -> str:
        return self.entry.id

    @property
    def severity(self) -> Severity:
        return self.entry.severity

    @property
    def is_error(self) -> bool:
        return self.entry.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.file, loc.line, loc.column, self.code, self.message)


#: Config fields whose value is a secret (as a reference; a literal there is refused).
SECRET_FIELDS = ("private_key", "secret")
#: Parts of a field name that make its value possibly a secret (`secert`, `privatekey`, ...).
_SECRET_WORDS = ("secret", "private", "passw", "credential", "token", "key")


def looks_secret(field: str) -> bool:
    """True when a field named `field` may hold a secret: its value is never shown."""
    lowered = field.lower()
    close = difflib.get_close_matches(lowered, SECRET_FIELDS, n=1, cutoff=0.6)
    return bool(close) or any(word in lowered for word in _SECRET_WORDS)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Findings sorted by file and position, duplicates removed."""
    return sorted(set(diagnostics), key=Diagnostic.sort_key)


def did_you_mean(name: str, candidates: Sequence[str]) -> str | None:
    """`did you mean 'x'?` for the closest candidate, or None when nothing is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def describe(value: Any) -> str:
    """The kind of a loaded value, never its content (it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, Mapping) else type(value).__name__
