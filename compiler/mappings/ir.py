"""The lowered form of mappings and `require` conditions, and of the code made from them.

Two levels, all frozen dataclasses:

* the *tree IR* (`LoweredMapping`, `LoweredRequire`) says what a mapping means: an object of
  ordered entries whose values are constants, definite or indefinite paths, lists or objects;
* the *statement IR* (`FunctionIR`, `ModuleIR`) is that meaning scheduled into straight-line
  statements, the only thing the jinja2 template sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from .paths import PathRoot, Step

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"


@dataclass(frozen=True)
class Origin:
    """Where a mapping is written: the file (relative to the config root) and its 1-based line."""

    file: str
    line: int


# --- tree IR -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constant:
    """A JSON value kept as is: a scalar, or a list that holds no object."""

    value: JsonValue


@dataclass(frozen=True)
class DefinitePath:
    """Names and indexes only: one value, or nothing (the key is then left out)."""

    root: PathRoot
    steps: tuple[Step, ...]
    text: str


@dataclass(frozen=True)
class IndefinitePath:
    """Wildcards, slices, filters, unions or `..`: the list of matches, possibly empty."""

    root: PathRoot
    #: The jsonpath-ng expression, always starting with a single `$`.
    expression: str
    text: str


@dataclass(frozen=True)
class ListNode:
    """A list that holds at least one object (a mapping in turn)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Entry:
    """One output key and the node that computes its value."""

    key: str
    value: Node


@dataclass(frozen=True)
class ObjectNode:
    entries: tuple[Entry, ...]


Node: TypeAlias = "Constant | DefinitePath | IndefinitePath | ListNode | ObjectNode"
PathNode: TypeAlias = "DefinitePath | IndefinitePath"


@dataclass(frozen=True)
class LoweredMapping:
    root: ObjectNode
    origin: Origin


@dataclass(frozen=True)
class Condition:
    """`path` must equal one of `candidates` (strict JSON equality)."""

    path: PathNode
    candidates: tuple[JsonValue, ...]
    #: The condition was written as a list (one of); only changes how it is described.
    one_of: bool


@dataclass(frozen=True)
class LoweredRequire:
    conditions: tuple[Condition, ...]
    origin: Origin


# --- statement IR ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """A local variable or parameter of a generated function."""

    kind: ClassVar[str] = "var"
    name: str


@dataclass(frozen=True)
class Const:
    """A constant JSON value, rendered through `repr()` after a type check."""

    kind: ClassVar[str] = "const"
    value: JsonValue


@dataclass(frozen=True)
class Matches:
    """`pattern(source)`: the list of matches of a module-level compiled path."""

    kind: ClassVar[str] = "matches"
    pattern: str
    source: str


@dataclass(frozen=True)
class ListOf:
    """A list display: a fresh list on every call."""

    kind: ClassVar[str] = "list"
    items: tuple[Operand, ...]


Operand: TypeAlias = "Var | Const | Matches | ListOf"


@dataclass(frozen=True)
class Comment:
    kind: ClassVar[str] = "comment"
    text: str


@dataclass(frozen=True)
class Lookup:
    """`target = source[step]` when `source` is a dict (name) or a long enough list (index)."""

    kind: ClassVar[str] = "lookup"
    target: str
    source: str
    step: Step
    #: The source is a function parameter, a dict by contract: no type check needed.
    source_is_dict: bool


@dataclass(frozen=True)
class NewObject:
    kind: ClassVar[str] = "new_object"
    target: str


@dataclass(frozen=True)
class Store:
    """`obj[key] = value`, only when the value is not MISSING if `optional`."""

    kind: ClassVar[str] = "store"
    obj: str
    key: str
    value: Operand
    optional: bool


@dataclass(frozen=True)
class RequireValue:
    """Return False unless `value` was found and equals one of `candidates`."""

    kind: ClassVar[str] = "require_value"
    value: str
    candidates: tuple[JsonValue, ...]


@dataclass(frozen=True)
class RequireAny:
    """Return False unless some match of `pattern` in `source` equals one of `candidates`."""

    kind: ClassVar[str] = "require_any"
    pattern: str
    source: str
    candidates: tuple[JsonValue, ...]


@dataclass(frozen=True)
class Return:
    kind: ClassVar[str] = "return"
    value: Operand


Statement: TypeAlias = "Comment | Lookup | NewObject | Store | RequireValue | RequireAny | Return"


@dataclass(frozen=True)
class FunctionIR:
    name: str
    #: Comment lines written above the function (already plain text; escaped by the template).
    description: str
    origin: Origin
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class TableIR:
    """One of the module's dicts: entries `(name, function name)` sorted by name."""

    name: str
    entries: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ModuleIR:
    version: str
    sources: tuple[str, ...]
    imports: tuple[str, ...]
    #: Module-level compiled paths: `(variable, expression)`.
    patterns: tuple[tuple[str, str], ...]
    functions: tuple[FunctionIR, ...]
    tables: tuple[TableIR, ...]
