"""The compile-time verdicts on `require` are sound: hypothesis draws conditions over a few
claims (so that they often contradict each other) and claims with the values they name; when
`check` says a `require` never holds (E373), the reference interpreter refuses every claim set,
and when it says it always holds (W371 on the whole), it admits every one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokensmith.compiler.mappings.condition_static import static_findings
from tokensmith.compiler.mappings.conditions import fatal, parse_conditions

from ._mapping_support import CONTEXT, require_holds

DOMAINS = {"identity_provider": (CONTEXT["identity_provider"],), "service": (CONTEXT["service"],)}
PATHS = ["$.a", "$['a']", "$.b", "$.l[*]", "$$.service", "$$.identity_provider"]
VALUES = st.sampled_from(["x", "xy", "y", 1, 2, 2.5, True, None, "my-service", "auth0"])
TEXTS = st.sampled_from(["", "x", "y", "xy", "my-", "auth"])
ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "prefix": TEXTS, "suffix": TEXTS, "glob": st.sampled_from(["x*", "*y", "?", "*", "x?y"]),
    "contains": VALUES, "gte": st.integers(0, 3), "gt": st.integers(0, 3),
    "lte": st.integers(0, 3), "lt": st.integers(0, 3), "exists": st.booleans(),
}
OPERATORS = st.lists(st.sampled_from(sorted(ARGUMENTS)), min_size=1, max_size=2,
                     unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: ARGUMENTS[n] for n in names}))
CONDITIONS = VALUES | st.lists(VALUES, min_size=1, max_size=3) | OPERATORS
LEAVES = st.tuples(st.sampled_from(PATHS), CONDITIONS)


def _combined(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    combinator = (
        st.tuples(st.just("any_of"), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("all_of"), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("not"), inner)
    )
    return st.lists(LEAVES | combinator, min_size=1, max_size=3).map(dict)


REQUIRE = st.recursive(st.lists(LEAVES, min_size=1, max_size=3).map(dict), _combined,
                       max_leaves=8)
CLAIMS = st.fixed_dictionaries({}, optional={
    "a": VALUES | st.lists(VALUES, max_size=2), "b": VALUES, "l": st.lists(VALUES, max_size=3)})


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(require=REQUIRE, claims=st.lists(CLAIMS, min_size=1, max_size=8))
def test_never_and_always_are_never_wrong(
    require: dict[str, Any], claims: list[dict[str, Any]]
) -> None:
    tree, problems = parse_conditions(require)
    if fatal(problems) is not None:
        return
    found = static_findings(tree, DOMAINS, "of p")
    never = any(p.code.id == "E373" for p in found)  # only ever about the whole
    always = any(p.code.id == "W371" and p.at == () for p in found)
    for claim_set in claims:
        holds = require_holds(require, claim_set, CONTEXT)
        if never:
            assert not holds, (require, claim_set)
        if always:
            assert holds, (require, claim_set)
