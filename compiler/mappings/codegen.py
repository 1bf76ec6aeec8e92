"""Code generation: lowered mappings -> the text of a bundle's `mappings.py`.

The tree IR is scheduled into straight-line statements (`ir.FunctionIR`), which one jinja2
template renders. Config data reaches the code only through two filters: `py` (the `repr()` of
a value checked to be JSON: str, int, finite float, bool, None, lists and dicts of them) and
`ident` (a validated ASCII identifier); comments go through `comment`, which escapes anything
that could end a line. Output is deterministic: tables and functions are sorted by name, and
nothing depends on ids, sets or time.
"""

from __future__ import annotations

import functools
import json
import keyword
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2

from .ir import (
    Comment,
    Const,
    Constant,
    DefinitePath,
    FunctionIR,
    IndefinitePath,
    JsonValue,
    ListOf,
    Lookup,
    LoweredMapping,
    LoweredRequire,
    Matches,
    ModuleIR,
    NewObject,
    Node,
    ObjectNode,
    Operand,
    RequireAny,
    RequireValue,
    Return,
    Statement,
    Store,
    TableIR,
    Var,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ROOTS = {"input": "claims", "context": "context"}


def generate_module(
    idp_mappings: Mapping[str, LoweredMapping],
    idp_requirements: Mapping[str, LoweredRequire],
    tp_mappings: Mapping[str, LoweredMapping],
    sources: Sequence[str],
    version: str,
) -> str:
    """The text of `mappings.py` for a whole config (see `docs/architecture.md`).

    Keys are identity provider names and services; `sources` are the config files, relative
    to the config root; `version` is the tokensmith version named in the header.
    """
    patterns = _Patterns()
    functions: list[FunctionIR] = []
    tables: list[TableIR] = []
    groups = (
        ("IDENTITY_PROVIDER_MAPPINGS", "idp", "", idp_mappings),
        ("IDENTITY_PROVIDER_REQUIREMENTS", "idp", "_require", idp_requirements),
        ("TOKEN_PROVIDER_MAPPINGS", "tp", "", tp_mappings),
    )
    for table, prefix, suffix, lowered in groups:
        entries = []
        for index, name in enumerate(sorted(lowered)):
            function_name = f"{prefix}_{index:04d}_{_slug(name)}{suffix}"
            functions.append(_function(function_name, table, name, lowered[name], patterns))
            entries.append((name, function_name))
        tables.append(TableIR(table, tuple(entries)))
    module = ModuleIR(
        version=version,
        sources=tuple(sorted(set(sources))),
        imports=_imports(functions, patterns),
        patterns=patterns.items(),
        functions=tuple(functions),
        tables=tuple(tables),
    )
    text = _environment().get_template("mappings.py.j2").render(module=module)
    return text.rstrip("\n") + "\n"


_DESCRIPTIONS = {
    "IDENTITY_PROVIDER_MAPPINGS": "identity provider {}: verified claims -> intermediate claims",
    "IDENTITY_PROVIDER_REQUIREMENTS": "identity provider {}: the `require` conditions",
    "TOKEN_PROVIDER_MAPPINGS": "token provider {}: intermediate claims -> issued claims",
}


def _function(
    function_name: str,
    table: str,
    name: str,
    lowered: LoweredMapping | LoweredRequire,
    patterns: _Patterns,
) -> FunctionIR:
    builder = _Builder(patterns)
    if isinstance(lowered, LoweredMapping):
        body = builder.mapping(lowered.root)
    else:
        body = builder.require(lowered)
    description = _DESCRIPTIONS[table].format(repr(name))
    return FunctionIR(function_name, description, lowered.origin, body)


class _Patterns:
    """Module-level compiled paths, named in order of first use; equal texts share one."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def name(self, expression: str) -> str:
        if expression not in self._names:
            self._names[expression] = f"PATH_{len(self._names)}"
        return self._names[expression]

    def items(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, expression) for expression, name in self._names.items())


class _Builder:
    """Schedules one function's tree IR into statements."""

    def __init__(self, patterns: _Patterns) -> None:
        self.patterns = patterns
        self.body: list[Statement] = []
        self.objects = 0

    def mapping(self, root: ObjectNode) -> tuple[Statement, ...]:
        self.body.append(NewObject("out"))
        self._fill("out", root, ())
        self.body.append(Return(Var("out")))
        return tuple(self.body)

    def require(self, lowered: LoweredRequire) -> tuple[Statement, ...]:
        for condition in lowered.conditions:
            expected = list(condition.candidates) if condition.one_of else condition.candidates[0]
            self.body.append(Comment(f"{condition.path.text}: {_json_text(expected)}"))
            path = condition.path
            if isinstance(path, IndefinitePath):
                pattern = self.patterns.name(path.expression)
                source = _ROOTS[path.root]
                self.body.append(RequireAny(pattern, source, condition.candidates))
            else:
                value = self._lookups(path)
                self.body.append(RequireValue(value.name, condition.candidates))
        self.body.append(Return(Const(True)))
        return tuple(self.body)

    def _fill(self, obj: str, node: ObjectNode, at: tuple[str | int, ...]) -> None:
        for entry in node.entries:
            where = (*at, entry.key)
            if isinstance(entry.value, DefinitePath | IndefinitePath):
                self.body.append(Comment(f"{_dotted(where)} <- {entry.value.text}"))
            value, optional = self._operand(entry.value, where)
            self.body.append(Store(obj, entry.key, value, optional))

    def _operand(self, node: Node, at: tuple[str | int, ...]) -> tuple[Operand, bool]:
        if isinstance(node, Constant):
            return Const(node.value), False
        if isinstance(node, DefinitePath):
            value = self._lookups(node)
            return value, bool(node.steps)
        if isinstance(node, IndefinitePath):
            return Matches(self.patterns.name(node.expression), _ROOTS[node.root]), False
        if isinstance(node, ObjectNode):
            self.objects += 1
            name = f"obj_{self.objects}"
            self.body.append(NewObject(name))
            self._fill(name, node, at)
            return Var(name), False
        items = tuple(self._operand(item, (*at, i))[0] for i, item in enumerate(node.items))
        return ListOf(items), False

    def _lookups(self, path: DefinitePath) -> Var:
        source = _ROOTS[path.root]
        for position, step in enumerate(path.steps):
            known_dict = position == 0 and isinstance(step, str)
            self.body.append(Lookup("value", source, step, known_dict))
            source = "value"
        return Var(source)


def _imports(functions: Sequence[FunctionIR], patterns: _Patterns) -> tuple[str, ...]:
    kinds = {type(s) for f in functions for s in f.body}
    optional = any(isinstance(s, Store) and s.optional for f in functions for s in f.body)
    names = set()
    if optional or Lookup in kinds or RequireValue in kinds:
        names.add("MISSING")
    if patterns.items():
        names.add("compile_path")
    if RequireValue in kinds or RequireAny in kinds:
        names.add("json_in")
    return tuple(sorted(names))


def _slug(name: str) -> str:
    """An identifier-safe, readable suffix for a function name (the index keeps it unique)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug[:40].rstrip("_") or "x"


def _dotted(at: tuple[str | int, ...]) -> str:
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(at)
    )


def _json_text(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


# --- filters -------------------------------------------------------------------------------


def py_literal(value: object) -> str:
    """`repr()` of a value checked to be JSON; anything else is refused.

    Strings that contain no quote are written in double quotes, the way ruff formats them;
    the text between the quotes is exactly `repr()`'s.
    """
    _check_json(value)
    return _literal(value)


def _literal(value: object) -> str:
    if type(value) is str:
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            return f'"{text[1:-1]}"'
        return text
    if type(value) is list:
        return f"[{', '.join(_literal(item) for item in value)}]"
    if type(value) is dict:
        return f"{{{', '.join(f'{_literal(k)}: {_literal(v)}' for k, v in value.items())}}}"
    return repr(value)


def py_tuple(values: Sequence[object]) -> str:
    """A tuple display of JSON values: `(True,)`, `('a', 'b')`."""
    items = [py_literal(v) for v in values]
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"  # () when empty


def identifier(name: object) -> str:
    """`name` if it is a plain ASCII identifier that is not a keyword; refused otherwise."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name) or keyword.iskeyword(name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return name


def comment_text(text: object) -> str:
    """Text safe inside a `#` comment: line breaks and other controls are escaped."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )


def _check_json(value: object) -> None:
    if value is None or type(value) in (bool, int, str):
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise ValueError(f"not a JSON number: {value!r}")
        return
    if type(value) is list:
        for item in value:
            _check_json(item)
        return
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(f"not a JSON object key: {key!r}")
            _check_json(item)
        return
    raise ValueError(f"not a JSON value: {type(value).__name__}")


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(py=py_literal, py_tuple=py_tuple, ident=identifier, comment=comment_text)
    return env
