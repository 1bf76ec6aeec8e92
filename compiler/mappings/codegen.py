"""Code generation: lowered mappings -> the text of a bundle's `mappings.py`.

The tree IR is scheduled into straight-line statements (`ir.FunctionIR`; `require` conditions
by `codegen_require.py`), which one jinja2 template renders. Config data reaches the code only through two filters: `py` (the `repr()` of
a value checked to be JSON: str, int, finite float, bool, None, lists and dicts of them) and
`ident` (a validated ASCII identifier); comments go through `comment`, which escapes anything
that could end a line. Output is deterministic: tables and functions are sorted by name, and
nothing depends on ids, sets or time.
"""

from __future__ import annotations

import functools
import keyword
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2

from ._codegen_common import ROOTS, Registry, lookups
from .codegen_require import ORDER_SYMBOLS, require_functions
from .ir import (
    Comment,
    Const,
    Constant,
    DefinitePath,
    FunctionIR,
    IndefinitePath,
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
    RequirePresence,
    RequireSome,
    RequireTest,
    RequireValue,
    Return,
    Statement,
    Store,
    TableIR,
    Var,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def generate_module(
    idp_mappings: Mapping[str, LoweredMapping],
    idp_requirements: Mapping[str, LoweredRequire],
    tp_mappings: Mapping[str, LoweredMapping],
    sources: Sequence[str],
    version: str,
    tp_requirements: Mapping[str, LoweredRequire] | None = None,
) -> str:
    """The text of `mappings.py` for a whole config (see `docs/architecture.md`).

    Keys are identity provider names and services; `sources` are the config files, relative
    to the config root; `version` is the tokensmith version named in the header. The table of
    `tp_requirements` is written only when a service has conditions, so that a config without
    any gives the same module as before services could have them.
    """
    patterns, globs = Registry("PATH"), Registry("GLOB")
    functions: list[FunctionIR] = []
    tables: list[TableIR] = []
    groups: list[tuple[str, str, Mapping[str, LoweredMapping] | Mapping[str, LoweredRequire]]] = [
        ("IDENTITY_PROVIDER_MAPPINGS", "idp", idp_mappings),
        ("IDENTITY_PROVIDER_REQUIREMENTS", "idp", idp_requirements),
        ("TOKEN_PROVIDER_MAPPINGS", "tp", tp_mappings),
    ]
    if tp_requirements:
        groups.append(("TOKEN_PROVIDER_REQUIREMENTS", "tp", tp_requirements))
    for table, prefix, lowered in groups:
        entries = []
        for index, name in enumerate(sorted(lowered)):
            item = lowered[name]
            owner = _OWNERS[table].format(repr(name))
            if isinstance(item, LoweredRequire):
                function_name = f"{prefix}_{index:04d}_{_slug(name)}_require"
                functions += require_functions(function_name, owner, item, patterns, globs)
            else:
                function_name = f"{prefix}_{index:04d}_{_slug(name)}"
                body = _Builder(patterns).mapping(item.root)
                functions.append(FunctionIR(function_name, f"{owner}: {_MAPS[table]}",
                                            item.origin, body))
            entries.append((name, function_name))
        tables.append(TableIR(table, tuple(entries)))
    names = [function.name for function in functions]
    if len(set(names)) != len(names):  # indexes make names unique; never emit a shadowed one
        raise ValueError("two generated functions would have the same name")
    module = ModuleIR(
        version=version,
        sources=tuple(sorted(set(sources))),
        imports=_imports(functions, patterns, globs),
        patterns=patterns.items(),
        globs=globs.items(),
        functions=tuple(functions),
        tables=tuple(tables),
    )
    text = _environment().get_template("mappings.py.j2").render(module=module)
    return text.rstrip("\n") + "\n"


_OWNERS = {
    "IDENTITY_PROVIDER_MAPPINGS": "identity provider {}",
    "IDENTITY_PROVIDER_REQUIREMENTS": "identity provider {}",
    "TOKEN_PROVIDER_MAPPINGS": "token provider {}",
    "TOKEN_PROVIDER_REQUIREMENTS": "token provider {}",
}
_MAPS = {
    "IDENTITY_PROVIDER_MAPPINGS": "verified claims -> intermediate claims",
    "TOKEN_PROVIDER_MAPPINGS": "intermediate claims -> issued claims",
}


class _Builder:
    """Schedules one mapping function's tree IR into statements."""

    def __init__(self, patterns: Registry) -> None:
        self.patterns = patterns
        self.body: list[Statement] = []
        self.objects = 0

    def mapping(self, root: ObjectNode) -> tuple[Statement, ...]:
        self.body.append(NewObject("out"))
        self._fill("out", root, ())
        self.body.append(Return(Var("out")))
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
            value = lookups(self.body, node)
            return value, bool(node.steps)
        if isinstance(node, IndefinitePath):
            return Matches(self.patterns.name(node.expression), ROOTS[node.root]), False
        if isinstance(node, ObjectNode):
            self.objects += 1
            name = f"obj_{self.objects}"
            self.body.append(NewObject(name))
            self._fill(name, node, at)
            return Var(name), False
        items = tuple(self._operand(item, (*at, i))[0] for i, item in enumerate(node.items))
        return ListOf(items), False


def _imports(
    functions: Sequence[FunctionIR], patterns: Registry, globs: Registry
) -> tuple[str, ...]:
    statements = [s for f in functions for s in f.body]
    kinds = {type(s) for s in statements}
    optional = any(isinstance(s, Store) and s.optional for s in statements)
    names = set()
    if optional or kinds & {Lookup, RequireValue, RequirePresence}:
        names.add("MISSING")
    if patterns.items():
        names.add("compile_path")
    if globs.items():
        names.add("compile_glob")
    if _needs_json_in(statements):
        names.add("json_in")
    return tuple(sorted(names))


def _needs_json_in(statements: Sequence[Statement]) -> bool:
    """Whether some comparison is not written with plain Python (see the template)."""
    for s in statements:
        if isinstance(s, RequireAny) or (
            isinstance(s, RequireValue) and not (s.strings or s.singletons)
        ):
            return True
        if isinstance(s, RequireTest | RequireSome) and any(
            p.op in ("equals", "one_of")
            or (p.op == "contains" and not (p.arg is None or isinstance(p.arg, str)))
            for p in s.test.predicates
        ):
            return True
    return False


def _slug(name: str) -> str:
    """An identifier-safe, readable suffix for a function name (the index keeps it unique)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug[:40].rstrip("_") or "x"


def _dotted(at: tuple[str | int, ...]) -> str:
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(at)
    )


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


def comparison(symbol: object) -> str:
    """One of the comparisons of the ordering operators; anything else is refused."""
    if symbol not in ORDER_SYMBOLS.values():
        raise ValueError(f"not a comparison: {symbol!r}")
    return str(symbol)


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
    env.filters.update(py=py_literal, py_tuple=py_tuple, ident=identifier, comment=comment_text,
                       comparison=comparison)
    return env
