"""What both code builders share: module-level names, path roots, definite lookups."""

from __future__ import annotations

import json

from .ir import DefinitePath, JsonValue, Lookup, Statement, Var

#: The parameter of a generated function each path root reads.
ROOTS = {"input": "claims", "context": "context"}


class Registry:
    """Module-level values (compiled paths, glob matchers) named `<PREFIX>_<n>` in order of
    first use; equal texts share one name."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._names: dict[str, str] = {}

    def name(self, text: str) -> str:
        if text not in self._names:
            self._names[text] = f"{self._prefix}_{len(self._names)}"
        return self._names[text]

    def items(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, text) for text, name in self._names.items())


def lookups(body: list[Statement], path: DefinitePath) -> Var:
    """Append the statements that read a definite path into `value`; the variable holding it."""
    source = ROOTS[path.root]
    for position, step in enumerate(path.steps):
        known_dict = position == 0 and isinstance(step, str)
        body.append(Lookup("value", source, step, known_dict))
        source = "value"
    return Var(source)


def json_text(value: JsonValue) -> str:
    """A value as one line of JSON, for comments."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
