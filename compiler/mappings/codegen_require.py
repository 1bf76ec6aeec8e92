"""Code generation of `require` conditions: each conditions object becomes a plain function.

The function of a `require` reads like the conditions: one early `return False` per condition, in
the order written, then `return True`. `all_of` is written inline (it is a conjunction too);
each alternative of `any_of` and the body of `not` become a function of their own, named after
the main one with a number (`idp_0000_github_require_1`), which the main function calls:

    # $.ref: {"glob": "refs/heads/release/*"}
    value = claims.get("ref", MISSING)
    if not (GLOB_0(value)):
        return False
    # any_of: one of idp_0000_github_require_1, idp_0000_github_require_2 holds
    if not (idp_0000_github_require_1(claims, context) or idp_0000_github_require_2(...)):
        return False

A glob with one `*` and no `?` is written inline (`value.startswith("refs/heads/")`); other
globs are compiled once at module level (`GLOB_0 = compile_glob("a*b*c")`) by the runtime's
non-backtracking matcher; comparisons check the JSON type first (`type(value) is
str`, `type(value) in (int, float)`, so `true` is never a number).
"""

from __future__ import annotations

from ._codegen_common import ROOTS, Registry, lookups
from .ir import (
    Comment,
    ConditionAll,
    ConditionAny,
    ConditionLeaf,
    ConditionNot,
    ConditionTest,
    Conjunction,
    Const,
    FunctionIR,
    IndefinitePath,
    JsonValue,
    LoweredRequire,
    Predicate,
    RequireAny,
    RequireCalls,
    RequireMatches,
    RequirePresence,
    RequireSome,
    RequireTest,
    RequireValue,
    Return,
    Statement,
)

EQUALITY = ("equals", "one_of")
#: The Python comparison of each ordering operator (the template lets only these through).
ORDER_SYMBOLS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
#: The JSON type an operator reads, checked before it (a glob matcher checks its own).
GUARDS = {"prefix": "str", "suffix": "str", "contains": "list", "gte": "number", "gt": "number",
          "lte": "number", "lt": "number", "glob": "str"}


def require_functions(
    name: str, owner: str, lowered: LoweredRequire, patterns: Registry, globs: Registry
) -> list[FunctionIR]:
    """The function `name` of a `require` object, then the functions it calls, in the order
    their conditions are written. `owner` names the provider in the comments."""
    return _Functions(name, owner, patterns, globs).build(lowered.root)


class _Functions:
    def __init__(self, name: str, owner: str, patterns: Registry, globs: Registry) -> None:
        self.name = name
        self.owner = owner
        self.patterns = patterns
        self.globs = globs
        self.functions: list[FunctionIR | None] = []

    def build(self, root: ConditionAll) -> list[FunctionIR]:
        self.functions.append(None)
        self.functions[0] = self._function(self.name, f"{self.owner}: the `require` conditions",
                                           root)
        return [f for f in self.functions if f is not None]

    def _function(self, name: str, description: str, node: ConditionAll) -> FunctionIR:
        body: list[Statement] = []
        self._conjunction(body, node)
        body.append(Return(Const(True)))
        return FunctionIR(name, description, node.origin, tuple(body))

    def _helper(self, node: ConditionAll, what: str) -> str:
        """A function of its own for `node`, numbered in the order written."""
        slot = len(self.functions)
        self.functions.append(None)
        name = f"{self.name}_{slot}"
        self.functions[slot] = self._function(name, f"{self.owner}: `require`, {what}", node)
        return name

    def _conjunction(self, body: list[Statement], node: ConditionAll) -> None:
        if node.kind == "all_of":
            body.append(Comment(f"all_of: {len(node.items)} conditions objects, all hold"))
        for item in node.items:
            if isinstance(item, ConditionLeaf):
                self._leaf(body, item)
            elif isinstance(item, ConditionAll):
                self._conjunction(body, item)
            elif isinstance(item, ConditionAny):
                count = len(item.alternatives)
                names = tuple(self._helper(alt, f"any_of alternative {i} of {count}")
                              for i, alt in enumerate(item.alternatives, 1))
                body.append(Comment(f"any_of: one of {', '.join(names)} holds"))
                body.append(RequireCalls(names))
            else:
                assert isinstance(item, ConditionNot)
                helper = self._helper(item.body, "the conditions under `not`")
                body.append(Comment(f"not: {helper} does not hold"))
                body.append(RequireCalls((helper,), negated=True))

    def _leaf(self, body: list[Statement], node: ConditionLeaf) -> None:
        body.append(Comment(node.text))
        values = [t for t in node.tests if t.op != "exists"]
        # `exists: true` beside other tests adds nothing: every other test fails on no value
        presence = [t.arg is True for t in node.tests if t.op == "exists"
                    if not (t.arg is True and values)]
        path = node.path
        if isinstance(path, IndefinitePath):
            pattern, source = self.patterns.name(path.expression), ROOTS[path.root]
            body += [RequireMatches(pattern, source, present) for present in presence]
            if len(values) == 1 and values[0].op in EQUALITY:
                body.append(RequireAny(pattern, source, tuple(_accepted(values[0]))))
            elif values:
                body.append(RequireSome(pattern, source, self._predicates(values, "item")))
            return
        value = lookups(body, path).name
        body += [RequirePresence(value, present) for present in presence]
        if len(values) == 1 and values[0].op in EQUALITY:
            body.append(RequireValue(value, tuple(_accepted(values[0]))))
        elif values:
            body.append(RequireTest(self._predicates(values, value)))

    def _predicates(self, tests: list[ConditionTest], subject: str) -> Conjunction:
        out = []
        for test in tests:
            plain = _plain_glob(test.arg) if test.op == "glob" else None
            if plain is not None:
                out += _plain_glob_predicates(subject, *plain)
            elif test.op == "glob":
                assert isinstance(test.arg, str)
                out.append(Predicate("glob", subject, self.globs.name(test.arg)))
            elif test.op in ORDER_SYMBOLS:
                out.append(Predicate(test.op, subject, test.arg, ORDER_SYMBOLS[test.op]))
            else:
                out.append(Predicate(test.op, subject, test.arg))
        guards = tuple(dict.fromkeys(GUARDS[t.op] for t in tests if t.op in GUARDS and (
            t.op != "glob" or _plain_glob(t.arg) is not None)))
        return Conjunction(subject, guards, tuple(out))


def _plain_glob(pattern: JsonValue) -> tuple[str, str] | None:
    """`(head, tail)` of a glob with at most one `*` and no `?` (`refs/heads/*`, `*@acme.com`):
    written inline as `startswith`/`endswith`, without a call to a matcher."""
    if not isinstance(pattern, str) or "?" in pattern or pattern.count("*") != 1:
        return None
    head, tail = pattern.split("*")
    return head, tail


def _plain_glob_predicates(subject: str, head: str, tail: str) -> list[Predicate]:
    out = []
    if head and tail:  # `ab*ba` must not match `aba`: the two ends may not overlap
        out.append(Predicate("min_length", subject, len(head) + len(tail)))
    if head:
        out.append(Predicate("prefix", subject, head))
    if tail:
        out.append(Predicate("suffix", subject, tail))
    return out


def _accepted(test: ConditionTest) -> list[JsonValue]:
    assert isinstance(test.arg, list)
    return list(test.arg)
