"""The lowered form of mappings and `require` conditions, and of the code made from them.

Two levels, all frozen dataclasses:

* the *tree IR* (`LoweredMapping`, `LoweredRequire`) says what a mapping means: an object of
  ordered entries whose values are constants, definite or indefinite paths, lists or objects;
  and what a `require` means: leaves (a path and its tests) under `all_of`, `any_of`, `not`;
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
class ConditionTest:
    """One test of a value: `equals`/`one_of` with `arg` the accepted values, `exists` with a
    boolean, or an operator of `schema/conditions.py` and its argument."""

    op: str
    arg: JsonValue


@dataclass(frozen=True)
class ConditionLeaf:
    """Every test holds on the value of `path` (on one match of an indefinite path); `text` is
    the condition as written, for the comment."""

    path: PathNode
    tests: tuple[ConditionTest, ...]
    text: str


@dataclass(frozen=True)
class ConditionAll:
    """Every item holds. `origin` is where it is written, for a function of its own."""

    items: tuple[ConditionNode, ...]
    origin: Origin
    #: "conditions" (a conditions object) or "all_of" (a list, written inline by its parent)
    kind: str = "conditions"


@dataclass(frozen=True)
class ConditionAny:
    alternatives: tuple[ConditionAll, ...]


@dataclass(frozen=True)
class ConditionNot:
    body: ConditionAll


ConditionNode: TypeAlias = "ConditionLeaf | ConditionAll | ConditionAny | ConditionNot"


@dataclass(frozen=True)
class LoweredRequire:
    """A `require` object: its conditions, all of which must hold."""

    root: ConditionAll
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

    @property
    def strings(self) -> bool:
        """Every candidate is a string: Python's `==` and `in` then compare exactly as JSON
        equality does, once the value is known to be a string."""
        return bool(self.candidates) and all(type(c) is str for c in self.candidates)

    @property
    def singletons(self) -> bool:
        """Every candidate is `true`, `false` or `null`: compared by identity (`1` is not
        `True`)."""
        return bool(self.candidates) and all(c is None or type(c) is bool
                                             for c in self.candidates)


@dataclass(frozen=True)
class RequireAny:
    """Return False unless some match of `pattern` in `source` equals one of `candidates`."""

    kind: ClassVar[str] = "require_any"
    pattern: str
    source: str
    candidates: tuple[JsonValue, ...]


@dataclass(frozen=True)
class Predicate:
    """One test on the variable `subject`, as an expression (`template`'s `predicate` macro).

    `arg` is the accepted values (`one_of`), the argument, or for `glob` the name of the
    module-level matcher; `symbol` is the comparison of `gte`/`gt`/`lte`/`lt`.
    """

    op: str
    subject: str
    arg: JsonValue
    symbol: str = ""


@dataclass(frozen=True)
class Conjunction:
    """Predicates on one variable, after the type checks they need (`str`, `number`, `list`),
    each written once."""

    subject: str
    guards: tuple[str, ...]
    predicates: tuple[Predicate, ...]

    @property
    def compound(self) -> bool:
        """More than one term: `not (...)` needs parentheses."""
        return len(self.guards) + len(self.predicates) > 1


@dataclass(frozen=True)
class RequireTest:
    """Return False unless the conjunction holds on the definite value `value`."""

    kind: ClassVar[str] = "require_test"
    test: Conjunction


@dataclass(frozen=True)
class RequireSome:
    """Return False unless the conjunction holds on one match (`item`) of `pattern`."""

    kind: ClassVar[str] = "require_some"
    pattern: str
    source: str
    test: Conjunction


@dataclass(frozen=True)
class RequirePresence:
    """`exists`: return False unless `value` is (`present`) or is not found."""

    kind: ClassVar[str] = "require_presence"
    value: str
    present: bool


@dataclass(frozen=True)
class RequireMatches:
    """`exists` on an indefinite path: return False unless it matches something (`present`) or
    nothing."""

    kind: ClassVar[str] = "require_matches"
    pattern: str
    source: str
    present: bool


@dataclass(frozen=True)
class RequireCalls:
    """Return False unless one of `functions` holds (`any_of`), or, `negated`, if the one
    function holds (`not`)."""

    kind: ClassVar[str] = "require_calls"
    functions: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Return:
    kind: ClassVar[str] = "return"
    value: Operand


Statement: TypeAlias = (
    "Comment | Lookup | NewObject | Store | RequireValue | RequireAny | RequireTest | RequireSome"
    " | RequirePresence | RequireMatches | RequireCalls | Return"
)


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
    #: Module-level glob matchers: `(variable, pattern)`.
    globs: tuple[tuple[str, str], ...]
    functions: tuple[FunctionIR, ...]
    tables: tuple[TableIR, ...]
