"""Property tests: for random claim sets and random mappings (definite and indefinite paths
drawn over the claim shape), the generated function gives exactly what the reference
interpreter gives: same keys, same order, same JSON types (`true` is not `1`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokensmith.compiler.mappings.interpreter import apply_mapping
from tokensmith.compiler.mappings.paths import parse_path

from ._mapping_support import (
    CONTEXT,
    canonical,
    generated_mapping,
    generated_require,
    require_holds,
)

NAMES = ["a", "b", "sub", "email", "x y", "é", "true", "0", "it's", 'q"', "back\\slash"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=4)
    | st.sampled_from(["x", "admin", "1"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES), inner, max_size=4)
    ),
    max_leaves=16,
)
claim_sets = st.dictionaries(st.sampled_from(NAMES), json_values, max_size=6)


def _quoted(name: str) -> str:
    return "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


definite_steps = st.sampled_from(NAMES).map(_quoted) | st.integers(-3, 3).map(lambda i: f"[{i}]")
indefinite_steps = st.sampled_from(
    [
        "[*]",
        ".*",
        "[1:]",
        "[:2]",
        "[::-1]",
        "[0,1]",
        "['a','sub']",
        "..a",
        "..*",
        "[?(@.a == 1)]",
        "[?(@.a == true)]",
        "[?(@.b)]",
        "[?(@.sub == 'x' || @.a > 0)]",
    ]
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(["$", "$", "$", "$$"]))
    steps = draw(st.lists(definite_steps, max_size=4))
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(steps)))
        steps.insert(at, draw(indefinite_steps))
    return root + "".join(steps)


def _mapping_entries(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(["k0", "k1", "k2", "k3", "sub", "é"])
    entry = st.tuples(keys, st.booleans(), paths(), children)

    def build(entries: list[tuple[str, bool, str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, is_path, path, child in entries:
            if key in out or f"{key}.$" in out:
                continue  # two keys equal once `.$` is stripped is a compile-time error
            if is_path:
                out[f"{key}.$"] = path
            else:
                out[key] = child
        return out

    return st.lists(entry, max_size=5).map(build)


mappings = st.recursive(
    _mapping_entries(scalars | st.lists(scalars, max_size=2)),
    lambda inner: _mapping_entries(inner | st.lists(inner | scalars, max_size=3)),
    max_leaves=8,
).filter(lambda m: isinstance(m, dict))


def _path_values(mapping: Any) -> list[str]:
    if isinstance(mapping, list):
        return [p for item in mapping for p in _path_values(item)]
    if not isinstance(mapping, dict):
        return []
    found: list[str] = []
    for key, value in mapping.items():
        found += [value] if key.endswith(".$") else _path_values(value)
    return found


def _plant(root: dict[str, Any], steps: tuple[str | int, ...], leaf: Any, pad: int) -> None:
    """Build the claims along a definite path, so that random paths often (nearly) match.

    Lists get the length the index needs plus `pad` (-1, 0 or 1): just out of range, exactly
    in range, one more. That is where off-by-one errors of index access show.
    """
    node: Any = root
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        fresh = leaf if last else ([] if isinstance(steps[position + 1], int) else {})
        if isinstance(step, str):
            if type(node) is not dict:
                return
            if last or type(node.get(step)) not in (dict, list):
                node[step] = fresh
            node = node[step]
            continue
        if type(node) is not list:
            return
        need = step + 1 if step >= 0 else -step
        while len(node) < need + pad:
            node.append(json.loads(json.dumps(fresh)))
        if not -len(node) <= step < len(node):
            return
        if last:
            node[step] = leaf
        node = node[step]


@pytest.mark.slow
@SETTINGS
@given(mapping=mappings, claims=st.lists(claim_sets, min_size=1, max_size=3), data=st.data())
def test_generated_mapping_equals_the_interpreter(
    mapping: dict[str, Any], claims: list[dict[str, Any]], data: st.DataObject
) -> None:
    function = generated_mapping(mapping)
    for claim_set in claims:
        for text in _path_values(mapping):
            path = parse_path(text)
            if path.steps and path.root == "input":
                _plant(claim_set, path.steps, data.draw(json_values), data.draw(st.integers(-1, 1)))
        expected = apply_mapping(mapping, claim_set, CONTEXT)
        assert canonical(function(claim_set, CONTEXT)) == canonical(expected)


short_texts = st.text(alphabet="ab/é", max_size=5)
numbers = st.integers(min_value=-3, max_value=3) | st.floats(-3, 3, allow_nan=False, width=32)
#: The argument of each operator (`schema/conditions.py`), drawn near the claims' values.
ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "prefix": short_texts,
    "suffix": short_texts,
    "glob": st.text(alphabet="ab/é*?", max_size=6),
    "contains": scalars | short_texts,
    "gte": numbers,
    "gt": numbers,
    "lte": numbers,
    "lt": numbers,
    "exists": st.booleans(),
}
operator_objects = st.lists(
    st.sampled_from(sorted(ARGUMENTS)), min_size=1, max_size=3, unique=True
).flatmap(lambda names: st.fixed_dictionaries({name: ARGUMENTS[name] for name in names}))
condition_values = (
    scalars | short_texts | st.lists(json_values | short_texts, min_size=1, max_size=3)
    | operator_objects
)
leaf_entries = st.tuples(paths(), condition_values)


def _combined(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    combinator = (
        st.tuples(st.just("any_of"), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("all_of"), st.lists(inner, min_size=1, max_size=3))
        | st.tuples(st.just("not"), inner)
    )
    return st.lists(leaf_entries | combinator, min_size=1, max_size=4).map(dict)


#: `require` objects of the whole language: values, one-of lists, operators, combinators.
requirements = st.recursive(
    st.lists(leaf_entries, min_size=1, max_size=3).map(dict), _combined, max_leaves=10
)
condition_claim_values = st.recursive(
    scalars | short_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES), inner,
                                                                 max_size=4),
    max_leaves=12,
)
condition_claims = st.dictionaries(st.sampled_from(NAMES), condition_claim_values, max_size=6)


@pytest.mark.slow
@SETTINGS
@given(require=requirements, claims=st.lists(condition_claims, min_size=1, max_size=4))
def test_generated_require_equals_the_interpreter(
    require: dict[str, Any], claims: list[dict[str, Any]]
) -> None:
    function = generated_require(require)
    for claim_set in claims:
        assert function(claim_set, CONTEXT) is require_holds(require, claim_set, CONTEXT)


@SETTINGS
@given(require=requirements, claims=st.lists(condition_claims, min_size=1, max_size=4))
def test_generated_service_require_equals_the_interpreter(
    require: dict[str, Any], claims: list[dict[str, Any]]
) -> None:
    # the same language on a token provider, over intermediate claims
    function = generated_require(require, side="token_provider")
    for claim_set in claims:
        assert function(claim_set, CONTEXT) is require_holds(require, claim_set, CONTEXT)
