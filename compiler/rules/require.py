"""Rules on `require` conditions, of identity providers and of token providers.

The language is parsed by `compiler/mappings/conditions.py`, whose shape problems become
findings here; what can be known statically is `compiler/mappings/condition_static.py`'s.

Errors: E355 a key that is neither a combinator nor a JSONPath, E370 an unknown operator, E371
an argument of the wrong type, E372 an empty condition, E307 an empty one-of list, E305 a `$$`
path outside the context, E304 a token provider condition on a path that no allowed identity
provider produces, E373 conditions that never hold. Warnings: W370 a glob without a wildcard,
W371 a condition that always holds, W372 an `any_of` alternative that never holds, W373 a
condition on `exp`/`iat`/`nbf`, W303 a path over incoming claims that reaches members it does
not name, W301 a token provider condition on a path only some providers produce.

Every finding is located at the key or value at fault (a path finding at its character).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tokensmith.schema.codes import E304, W301, W370, W373
from tokensmith.schema.diagnostics import Diagnostic, did_you_mean
from tokensmith.schema.location import ConfigPath, SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.validate import Refused

from ..mappings.checks import allowed_providers, context_name, key_column, named, steerable
from ..mappings.condition_static import static_findings
from ..mappings.conditions import AllOf, Leaf, Problem, fatal, leaves, parse_conditions
from ..mappings.lower import output_key
from ._common import ReferenceRule

#: Claims tokensmith checks against the clock itself, with the provider's leeway.
TIME_CLAIMS = ("exp", "iat", "nbf")


def conditions(config: Config, source_map: SourceMap, refused: Refused) -> list[Diagnostic]:
    """Every finding about the `require` conditions of a validated config.

    An identity provider that the schema `refused` may produce any claim: a service condition is
    then never reported as reading a claim that no provider produces (E304)."""
    produced = {
        name: {output_key(k) for k in idp.mapping if isinstance(k, str)}
        for name, idp in config.identity_providers.items()
    }
    found: list[Diagnostic] = []
    accepting = _services_by_provider(config)
    for name, idp in config.identity_providers.items():
        if idp.require is None:
            continue
        where = ("identity_providers", name, "require")
        domains = {"identity_provider": (name,), "service": accepting.get(name, ())}
        checker = _Checker(where, source_map)
        tree = checker.parse(idp.require)
        found += checker.findings
        found += checker.leaf_findings(tree, incoming=True)
        if checker.whole:
            found += checker.located(static_findings(tree, domains,
                                                     f"of identity provider '{name}'"))
    for service, tp in config.token_providers.items():
        if tp.require is None:
            continue
        where = ("token_providers", service, "require")
        allowed, partial = allowed_providers(
            tp.identity_providers, produced, refused.of("identity_providers")
        )
        domains = {"identity_provider": allowed, "service": (service,)}
        checker = _Checker(where, source_map)
        tree = checker.parse(tp.require)
        found += checker.findings
        found += checker.leaf_findings(tree, incoming=False)
        found += checker.flow(tree, allowed, produced, partial)
        if checker.whole:
            found += checker.located(static_findings(tree, domains, f"for service '{service}'"))
    return found


def _services_by_provider(config: Config) -> dict[str, tuple[str, ...]]:
    """Identity provider -> the services that accept it (their allow-list, or all)."""
    out: dict[str, list[str]] = {name: [] for name in config.identity_providers}
    for service, tp in config.token_providers.items():
        for name in tp.identity_providers if tp.identity_providers is not None else out:
            if name in out:
                out[name].append(service)
    return {name: tuple(services) for name, services in out.items()}


class _Checker:
    """The findings of one `require` object at `where` in the config."""

    def __init__(self, where: ConfigPath, source_map: SourceMap) -> None:
        self.where = where
        self.source_map = source_map
        self.findings: list[Diagnostic] = []
        #: no part was left out of the tree for a shape problem: it can be reasoned about
        self.whole = True

    def parse(self, require: Mapping[str, Any]) -> AllOf:
        tree, problems = parse_conditions(require)
        self.findings += self.located(problems)
        self.whole = fatal(problems) is None
        return tree

    def located(self, problems: Sequence[Problem]) -> list[Diagnostic]:
        out = []
        for problem in problems:
            at = (*self.where, *problem.at)
            place = self.source_map.key(at) if problem.in_key else self.source_map.value(at)
            out.append(Diagnostic(problem.code, problem.message, place, problem.hint))
        return out

    def leaf_findings(self, tree: AllOf, incoming: bool) -> Iterator[Diagnostic]:
        for leaf in leaves(tree):
            at = (*self.where, *leaf.at)
            yield from context_name(leaf.path, self.source_map, at, in_key=True)
            if incoming:
                yield from steerable(leaf.path, self.source_map, at, in_key=True)
                yield from self._time_claim(leaf, at)
            for test in leaf.tests:
                if test.op == "glob" and isinstance(test.arg, str) and not (
                    "*" in test.arg or "?" in test.arg
                ):
                    yield Diagnostic(
                        W370,
                        f"the glob {test.arg!r} has no `*` or `?`, so it matches only that "
                        "exact text",
                        self.source_map.value((*at, "glob")),
                        f"say so with equality: `{leaf.key}: {_yaml_text(test.arg)}`",
                    )

    def _time_claim(self, leaf: Leaf, at: ConfigPath) -> Iterator[Diagnostic]:
        head = leaf.path.head
        if leaf.path.root == "input" and head in TIME_CLAIMS:
            yield Diagnostic(
                W373,
                f"a condition on `{head}`, which tokensmith checks against the clock itself: "
                "this compares it with a fixed number that does not move with time",
                key_column(self.source_map, at, max(leaf.key.find(head), 0)),
                "set the provider's `leeway` (seconds of clock skew) instead, unless a fixed "
                "date is really meant",
            )

    def flow(
        self,
        tree: AllOf,
        allowed: Sequence[str],
        produced: Mapping[str, set[str]],
        partial: bool,
    ) -> Iterator[Diagnostic]:
        """E304/W301: a service's condition on an intermediate claim its providers never make.
        `partial`: another allowed provider was refused by the schema and may produce anything."""
        if not allowed:
            return  # no usable identity provider: the rules report that
        for leaf in leaves(tree):
            head = leaf.path.head
            if leaf.path.root != "input" or head is None:
                continue
            missing = [name for name in allowed if head not in produced[name]]
            place = key_column(self.source_map, (*self.where, *leaf.at),
                               max(leaf.key.find(head), 0))
            if len(missing) == len(allowed) and not partial:
                keys = sorted(set().union(*(produced[name] for name in allowed)))
                yield Diagnostic(
                    E304,
                    f"no allowed identity provider's mapping produces {head!r}, so the "
                    f"condition on {leaf.key!r} never sees a value ({named(allowed)})",
                    place,
                    did_you_mean(head, keys) or "add it to the identity provider mappings: "
                    "a service's conditions read the intermediate claims",
                )
            elif missing:
                yield Diagnostic(
                    W301,
                    f"{head!r} is not produced by the mapping of {named(missing)}; with a "
                    f"token from {'it' if len(missing) == 1 else 'them'}, the condition on "
                    f"{leaf.key!r} sees no value",
                    place,
                    "produce it in every allowed identity provider, or narrow "
                    "`identity_providers`",
                )


def _yaml_text(text: str) -> str:
    return text if text and text.replace("/", "").replace("-", "").replace("_", "").replace(
        ".", "").replace(":", "").isalnum() else repr(text)


REFERENCE_RULES: tuple[ReferenceRule, ...] = (conditions,)
