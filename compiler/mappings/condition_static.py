"""What can be known about a `require` at compile time: parts that never hold or always hold.

Only sound conclusions are drawn; anything not certain is "it depends on the token":

* the context is known: `$$.identity_provider` of an identity provider's conditions is its own
  name, its `$$.service` one of the services that accept it; a service's `$$.service` is its
  own name, its `$$.identity_provider` one of the providers it accepts. A part that reads only
  the context is evaluated for each of those contexts (a few hundred at most; beyond that the
  context is "unknown" too);
* the tests on one claim can exclude each other: within one conjunction (a conditions object,
  with its `all_of` parts), the tests on one definite path must all hold on one value, so two
  different required values, a required value that fails another test, a number range that is
  empty, a string test with a number test, or `exists: false` beside any other test, never
  hold. On an indefinite path only the tests of one operator object meet one same match;
* a claim of the incoming token can be anything, so a test on one never holds for every token.

Combinators follow Kleene's three-valued logic, per context.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tokensmith.runtime.mapping_api import CONTEXT_NAMES, json_in
from tokensmith.schema.codes import E373, W371, W372
from tokensmith.schema.location import ConfigPath

from ._codegen_common import json_text
from .conditions import EQUALS, ONE_OF, AllOf, AnyOf, Leaf, Node, Not, Problem, Test
from .operators import leaf_holds, test_holds
from .paths import find_values

#: Beyond this many contexts, parts that read the context are left undecided.
MAX_CONTEXTS = 256
Maybe = bool | None


def static_findings(
    tree: AllOf, domains: Mapping[str, Sequence[str]], applies_to: str
) -> list[Problem]:
    """E373 when the whole `require` never holds, else W371 for parts that always hold and
    W372 for `any_of` alternatives that never hold. `domains` gives the possible values of each
    context name; `applies_to` says whose tokens are refused, for the message."""
    analysis = _Analysis(tree, domains)
    whole = analysis.verdict(tree)
    if whole is False:
        at, in_key, reason = analysis.culprit(tree)
        return [Problem(E373, f"this never holds: {reason}; every token {applies_to} is "
                        "refused", at, in_key, "remove or correct the condition")]
    if whole is True and tree.items:
        return [_always(tree, analysis.reason_always(tree))]
    return list(analysis.parts(tree))


def _always(node: Node, reason: str) -> Problem:
    at, in_key = _place(node)
    return Problem(W371, f"this always holds ({reason}), so it has no effect", at, in_key,
                   "remove it, or say what was meant", fatal=False)


def _place(node: Node) -> tuple[ConfigPath, bool]:
    """Where a finding about `node` points: a key, or a list item's value."""
    if isinstance(node, AllOf):
        return node.at, not node.at or not isinstance(node.at[-1], int)
    return node.at, True


class _Analysis:
    def __init__(self, tree: AllOf, domains: Mapping[str, Sequence[str]]) -> None:
        self.contexts = _contexts(tree, domains)
        self.domains = domains
        self._memo: dict[int, tuple[Maybe, ...]] = {}
        self._conflicts: dict[int, tuple[Leaf, str] | None] = {}

    # --- verdicts --------------------------------------------------------------------------

    def verdict(self, node: Node) -> Maybe:
        """True: holds for every token; False: for none; None: it depends."""
        values = self._values(node)
        if all(v is True for v in values):
            return True
        if all(v is False for v in values):
            return False
        return None

    def _values(self, node: Node) -> tuple[Maybe, ...]:
        key = id(node)
        if key not in self._memo:
            self._memo[key] = tuple(self._value(node, context) for context in self.contexts)
        return self._memo[key]

    def _value(self, node: Node, context: Mapping[str, Any] | None) -> Maybe:
        if isinstance(node, Leaf):
            return _leaf(node, context)
        if isinstance(node, AllOf):
            if self.conflict(node) is not None:
                return False
            return _kleene((self._value(item, context) for item in node.items), decisive=False)
        if isinstance(node, AnyOf):
            return _kleene((self._value(alt, context) for alt in node.alternatives),
                           decisive=True)
        assert isinstance(node, Not)
        inner = self._value(node.body, context)
        return None if inner is None else not inner

    def conflict(self, node: AllOf) -> tuple[Leaf, str] | None:
        """The first leaf of a conjunction whose tests exclude those before it on one claim."""
        if id(node) not in self._conflicts:
            self._conflicts[id(node)] = _conflict(_conjuncts(node))
        return self._conflicts[id(node)]

    # --- explaining ------------------------------------------------------------------------

    def culprit(self, node: Node) -> tuple[ConfigPath, bool, str]:
        """Where to point at, and why, for a part that never holds."""
        if isinstance(node, AllOf):
            conflict = self.conflict(node)
            if conflict is not None:
                leaf, reason = conflict
                return leaf.at, True, reason
            for item in node.items:
                if self.verdict(item) is False:
                    return self.culprit(item)
            at, in_key = _place(node)
            return at, in_key, "its conditions on the context exclude each other"
        at, in_key = _place(node)
        if isinstance(node, Leaf):
            return at, in_key, self._leaf_reason(node, "never")
        if isinstance(node, AnyOf):
            return at, in_key, "none of the `any_of` alternatives can hold"
        return at, in_key, "the conditions under `not` always hold"

    def reason_always(self, node: Node) -> str:
        if isinstance(node, Leaf):
            return self._leaf_reason(node, "always")
        if isinstance(node, AnyOf):
            return "one of its alternatives always holds"
        if isinstance(node, Not):
            return "the conditions under `not` never hold"
        return "every condition in it holds for every token it applies to"

    def _leaf_reason(self, leaf: Leaf, how: str) -> str:
        if leaf.path.root == "context":
            name = leaf.path.head
            values = self.domains.get(name or "", ())
            which = {"service": "services", "identity_provider": "identity providers"}.get(
                name or "", "contexts")
            listed = f" ({', '.join(values)})" if name and values else ""
            count = "every one" if how == "always" else "none"
            return f"`{leaf.key}` holds for {count} of the {which} it applies to{listed}"
        return f"no value of `{leaf.key}` is {describe(leaf.tests)}"

    def parts(self, node: Node) -> Iterator[Problem]:
        """W371 and W372 below a `require` that itself may or may not hold."""
        if isinstance(node, AllOf):
            for item in node.items:
                if self.verdict(item) is True:
                    yield _always(item, self.reason_always(item))
                else:
                    yield from self.parts(item)
        elif isinstance(node, AnyOf):
            for alt in node.alternatives:
                if self.verdict(alt) is False:
                    _, _, reason = self.culprit(alt)
                    place, key = _place(alt)
                    yield Problem(W372, f"this `any_of` alternative never holds: {reason}",
                                  place, key, "remove it, or correct it", fatal=False)
                else:
                    yield from self.parts(alt)
        elif isinstance(node, Not):
            yield from self.parts(node.body)


def _contexts(
    tree: AllOf, domains: Mapping[str, Sequence[str]]
) -> list[Mapping[str, Any] | None]:
    """Every context the tree's context paths can see, or `[None]` (unknown) when there are
    too many or a name has no value."""
    used: set[str] = set()
    for leaf in _leaves(tree):
        if leaf.path.root == "context":
            used |= {leaf.path.head} if leaf.path.head in CONTEXT_NAMES else set(CONTEXT_NAMES)
    if not used:
        return [{}]
    names = sorted(used)
    choices = [tuple(domains.get(name, ())) for name in names]
    count = 1
    for choice in choices:
        count *= len(choice)
    if count == 0 or count > MAX_CONTEXTS:
        return [None]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*choices)]


def _leaves(node: Node) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, AllOf):
        for item in node.items:
            yield from _leaves(item)
    elif isinstance(node, AnyOf):
        for alt in node.alternatives:
            yield from _leaves(alt)
    else:
        yield from _leaves(node.body)


def _leaf(leaf: Leaf, context: Mapping[str, Any] | None) -> Maybe:
    if _undecidable(leaf):
        return None
    if leaf.path.root == "context":
        if context is None:
            return None
        matches = find_values(leaf.path, context)
        return leaf_holds(leaf.tests, matches[:1] if leaf.path.definite else matches)
    return False if _excluded(leaf.tests) is not None else None


def _undecidable(leaf: Leaf) -> bool:
    """Leaves that `check` reports otherwise (an unknown context name, one of nothing)."""
    if leaf.path.root == "context" and leaf.path.head not in (None, *CONTEXT_NAMES):
        return True
    return any(t.op == ONE_OF and not t.arg for t in leaf.tests)


def _kleene(values: Iterator[Maybe], *, decisive: bool) -> Maybe:
    """Three-valued `and` (`decisive` False) or `or` (True): a decisive value settles it at
    once; otherwise unknown (None) if any value is, else the other value."""
    result: Maybe = not decisive
    for value in values:
        if value is decisive:
            return decisive
        if value is None:
            result = None
    return result


def _conjuncts(node: AllOf) -> Iterator[Leaf]:
    """The leaves of a conjunction, `all_of` parts included (they are conjunctions too), and
    `not` of one existence test as the opposite test."""
    for item in node.items:
        if isinstance(item, Leaf):
            yield item
        elif isinstance(item, AllOf):
            yield from _conjuncts(item)
        elif isinstance(item, Not):
            opposite = _negated_existence(item)
            if opposite is not None:
                yield opposite


def _negated_existence(node: Not) -> Leaf | None:
    """`not: {PATH: {exists: B}}` holds exactly when `PATH: {exists: not B}` does (a path has a
    value, or a match, or it has none)."""
    items = node.body.items
    if len(items) != 1 or not isinstance(items[0], Leaf):
        return None
    leaf = items[0]
    if len(leaf.tests) != 1 or leaf.tests[0].op != "exists":
        return None
    opposite = Test("exists", not leaf.tests[0].arg)
    return Leaf(leaf.key, leaf.path, (opposite,), leaf.written, leaf.at)


def _conflict(leaves: Iterator[Leaf]) -> tuple[Leaf, str] | None:
    seen: dict[tuple[Any, ...], list[Test]] = {}
    for leaf in leaves:
        if _undecidable(leaf) or leaf.path.root != "input":
            continue
        if not leaf.path.definite:
            reason = _excluded(leaf.tests)
            if reason is not None:
                return leaf, reason
            continue
        steps = tuple((type(s).__name__, s) for s in leaf.path.steps or ())
        before = seen.setdefault(steps, [])
        reason = _excluded([*before, *leaf.tests])
        if reason is not None:
            return leaf, f"`{leaf.key}` cannot be {describe(before)} and {describe(leaf.tests)}" \
                if before else reason
        before.extend(leaf.tests)
    return None


def _excluded(tests: Sequence[Test]) -> str | None:
    """Why no value passes all `tests` (on one value), or None when one may."""
    exists = {t.arg for t in tests if t.op == "exists"}
    values = [t for t in tests if t.op != "exists"]
    if False in exists and (values or True in exists):
        return "`exists: false` leaves no value for the other tests"
    if not values:
        return None
    equal = [t for t in values if t.op in (EQUALS, ONE_OF)]
    if equal:
        candidates: list[Any] = []
        for number, test in enumerate(equal):
            assert isinstance(test.arg, list)
            candidates = list(test.arg) if number == 0 else [
                c for c in candidates if json_in(c, test.arg)]
        others = [t for t in values if t.op not in (EQUALS, ONE_OF)]
        if not any(all(test_holds(t, c) for t in others) for c in candidates):
            return f"no value is {describe(values)}"
        return None
    families = {_family(t.op) for t in values}
    if len(families) > 1:
        return f"no value is {describe(values)}"
    if families == {"number"}:
        return _empty_range(values)
    if families == {"string"}:
        return _strings_excluded(values)
    return None


def _family(op: str) -> str:
    if op in ("prefix", "suffix", "glob"):
        return "string"
    if op in ("gte", "gt", "lte", "lt"):
        return "number"
    return "list"


def _empty_range(tests: Sequence[Test]) -> str | None:
    # bounds as (number, strict), compared exactly (a float would round large integers)
    lows = [(t.arg, t.op == "gt") for t in tests if t.op in ("gte", "gt")]
    highs = [(t.arg, t.op == "lt") for t in tests if t.op in ("lte", "lt")]
    if not lows or not highs:
        return None
    low = max(lows, key=lambda b: (b[0], b[1]))  # the tightest: largest, strict if equal
    high = min(highs, key=lambda b: (b[0], not b[1]))
    low_value, high_value = low[0], high[0]
    assert isinstance(low_value, int | float) and isinstance(high_value, int | float)
    if low_value > high_value or (low_value == high_value and (low[1] or high[1])):
        return f"no number is {describe(tests)}"
    return None


def _strings_excluded(tests: Sequence[Test]) -> str | None:
    heads = [str(t.arg) for t in tests if t.op == "prefix"]
    tails = [str(t.arg) for t in tests if t.op == "suffix"]
    exact: set[int] = set()
    for test in tests:
        if test.op == "glob":
            pattern = str(test.arg)
            heads.append(_literal_run(pattern))
            tails.append(_literal_run(pattern[::-1])[::-1])
            if "*" not in pattern:
                exact.add(len(pattern))
    clash = any(not _agree(a, b) for a, b in itertools.combinations(heads, 2)) or any(
        not _agree(a[::-1], b[::-1]) for a, b in itertools.combinations(tails, 2))
    longest = max(map(len, [*heads, *tails]), default=0)
    if clash or len(exact) > 1 or (exact and min(exact) < longest):
        return f"no text is {describe(tests)}"
    return None


def _literal_run(pattern: str) -> str:
    """The characters a glob fixes at its start (up to the first `*` or `?`)."""
    for index, char in enumerate(pattern):
        if char in "*?":
            return pattern[:index]
    return pattern


def _agree(a: str, b: str) -> bool:
    """Whether two texts a value must start with can both hold."""
    return a.startswith(b) or b.startswith(a)


def describe(tests: Sequence[Test]) -> str:
    """`equal to "a"`, `one of [...]`, `prefix "x" and gte 3`: tests as a reader says them."""
    parts = []
    for test in tests:
        if test.op == EQUALS:
            assert isinstance(test.arg, list)
            parts.append(f"equal to {json_text(test.arg[0])}")
        elif test.op == ONE_OF:
            parts.append(f"one of {json_text(test.arg)}")
        elif test.op == "exists":
            parts.append("present" if test.arg else "absent")
        else:
            parts.append(f"{test.op} {json_text(test.arg)}")
    return " and ".join(parts) or "anything"

