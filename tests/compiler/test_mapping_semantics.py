"""Mapping semantics (docs/mappings.md), checked on the reference interpreter and on
the generated code alike: every case runs through both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tokensmith.compiler.mappings.interpreter import apply_mapping, evaluate_require

from ._mapping_support import CONTEXT, generated_mapping, generated_require, require_holds

Evaluate = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


def _interpreted(mapping: Mapping[str, Any]) -> Callable[[Any, Any], Any]:
    return lambda claims, context: apply_mapping(mapping, claims, context)


@pytest.fixture(params=["interpreter", "generated"])
def compile_mapping(request: pytest.FixtureRequest) -> Callable[[Mapping[str, Any]], Evaluate]:
    return _interpreted if request.param == "interpreter" else generated_mapping


@pytest.fixture(params=["interpreter", "generated"])
def compile_require(request: pytest.FixtureRequest) -> Callable[[Mapping[str, Any]], Evaluate]:
    if request.param == "interpreter":
        return lambda require: lambda claims, context: require_holds(require, claims, context)
    return generated_require


SEED_MAPPING = {
    "sub.$": "$.sub",
    "email.$": "$.email",
    "service": "my-service",
    "special": {"role.$": "$.role.id"},
}
SEED_CLAIMS = {"sub": "my-user-id", "email": "my-email@statebacked.dev", "role": {"id": "my-role"}}
SEED_OUTPUT = {
    "sub": "my-user-id",
    "email": "my-email@statebacked.dev",
    "service": "my-service",
    "special": {"role": "my-role"},
}


def test_the_seed_example_holds_to_the_letter(compile_mapping: Any) -> None:
    out = compile_mapping(SEED_MAPPING)(SEED_CLAIMS, CONTEXT)
    assert out == SEED_OUTPUT
    assert list(out) == ["sub", "email", "service", "special"]


CLAIMS: dict[str, Any] = {
    "sub": "u1",
    "groups": ["a", "b", "c"],
    "role": {"id": "r"},
    "nothing": None,
    "flag": True,
    "s": "text",
    "a b": 1,
    "org": {"teams": [{"name": "x", "admin": True}, {"name": "y", "admin": 1}]},
}
ABSENT = object()

DEFINITE = [
    ("$.sub", "u1"),
    ("$['sub']", "u1"),
    ("$['a b']", 1),
    ("$.groups", ["a", "b", "c"]),
    ("$.groups[0]", "a"),
    ("$.groups[-1]", "c"),
    ("$.groups[-3]", "a"),
    ("$.role.id", "r"),
    ("$.org.teams[1].name", "y"),
    ("$.nothing", None),  # a claim that is null is present: the key is kept
    ("$.flag", True),
    ("$", CLAIMS),
    # nothing matches: the key is left out
    ("$.missing", ABSENT),
    ("$.role.nope", ABSENT),
    ("$.groups[3]", ABSENT),
    ("$.groups[-4]", ABSENT),
    ("$.sub.x", ABSENT),  # a name in a string
    ("$.groups.x", ABSENT),  # a name in a list
    ("$.role[0]", ABSENT),  # an index in an object
    ("$.s[0]", ABSENT),  # an index in a string
    ("$.nothing.x", ABSENT),
]


@pytest.mark.parametrize(("path", "expected"), DEFINITE, ids=[p for p, _ in DEFINITE])
def test_a_definite_path_yields_its_value_or_leaves_the_key_out(
    compile_mapping: Any, path: str, expected: object
) -> None:
    out = compile_mapping({"k.$": path, "after": 1})(CLAIMS, CONTEXT)
    if expected is ABSENT:
        assert out == {"after": 1}
    else:
        assert out == {"k": expected, "after": 1}
        assert type(out["k"]) is type(expected)


INDEFINITE = [
    ("$.groups[*]", ["a", "b", "c"]),
    ("$.missing[*]", []),
    ("$.groups[1:]", ["b", "c"]),
    ("$.groups[-2:]", ["b", "c"]),
    ("$.groups[::2]", ["a", "c"]),
    ("$.groups[0,2]", ["a", "c"]),
    ("$['sub','missing','s']", ["u1", "text"]),
    ("$.role.*", ["r"]),
    ("$.org.teams[*].name", ["x", "y"]),
    ("$..name", ["x", "y"]),
    ("$.org.teams[?(@.admin == true)].name", ["x"]),  # `true` is not `1`
    ("$.org.teams[?(@.admin == 1)].name", ["y"]),
    ("$.org.teams[?(@.name == 'y' || @.name == 'x')].name", ["x", "y"]),
    ("$.sub[*]", []),
]


@pytest.mark.parametrize(("path", "expected"), INDEFINITE, ids=[p for p, _ in INDEFINITE])
def test_an_indefinite_path_yields_the_list_of_matches(
    compile_mapping: Any, path: str, expected: list[object]
) -> None:
    assert compile_mapping({"k.$": path})(CLAIMS, CONTEXT) == {"k": expected}


def test_objects_inside_lists_are_mappings_in_turn(compile_mapping: Any) -> None:
    mapping = {
        "items": [{"first.$": "$.groups[0]"}, "$.sub", 3, [{"who.$": "$.sub", "gone.$": "$.x"}]],
        "plain": ["$.sub", {"deep": {"id.$": "$.role.id"}}],
    }
    out = compile_mapping(mapping)(CLAIMS, CONTEXT)
    assert out == {
        "items": [{"first": "a"}, "$.sub", 3, [{"who": "u1"}]],
        "plain": ["$.sub", {"deep": {"id": "r"}}],
    }


def test_double_dollar_paths_read_the_context(compile_mapping: Any) -> None:
    mapping = {
        "idp.$": "$$.identity_provider",
        "svc.$": "$$.service",
        "all.$": "$$",
        "both.$": "$$.*",
        "gone.$": "$$.service.x",
    }
    out = compile_mapping(mapping)(CLAIMS, CONTEXT)
    assert out == {
        "idp": "auth0",
        "svc": "my-service",
        "all": CONTEXT,
        "both": ["auth0", "my-service"],
    }


def test_a_missing_path_leaves_the_key_out_but_keeps_its_object(compile_mapping: Any) -> None:
    out = compile_mapping(SEED_MAPPING)({"sub": "u2"}, CONTEXT)
    assert out == {"sub": "u2", "service": "my-service", "special": {}}


def test_constants_of_every_json_type_are_kept_as_is(compile_mapping: Any) -> None:
    mapping: dict[str, Any] = {
        "null": None,
        "no": False,
        "one": 1,
        "half": 0.5,
        "big": 2**70,
        "text": "é \"'\n",
        "list": [1, "a", None, [True]],
        "empty": {},
    }
    out = compile_mapping(mapping)({}, CONTEXT)
    assert out == mapping
    assert type(out["no"]) is bool
    assert type(out["one"]) is int
    assert list(out) == list(mapping)


def test_constants_are_fresh_objects_on_every_call(compile_mapping: Any) -> None:
    function = compile_mapping({"list": [1, [2]], "obj": {"k": [3]}})
    first = function({}, CONTEXT)
    first["list"][1].append("leak")
    first["obj"]["k"].append("leak")
    second = function({}, CONTEXT)
    assert second == {"list": [1, [2]], "obj": {"k": [3]}}
    assert second["list"] is not first["list"]


REQUIRE_CASES = [
    ({"$.flag": True}, {"flag": True}, True),
    ({"$.flag": True}, {"flag": 1}, False),  # true is not 1
    ({"$.n": 1}, {"n": True}, False),
    ({"$.n": 1}, {"n": 1.0}, True),  # one JSON number type
    ({"$.n": "1"}, {"n": 1}, False),
    ({"$.n": None}, {"n": None}, True),
    ({"$.n": None}, {}, False),  # a definite path that matches nothing fails
    ({"$.n": False}, {"n": 0}, False),
    ({"$.role": ["admin", "owner"]}, {"role": "owner"}, True),  # a list means one of
    ({"$.role": ["admin", "owner"]}, {"role": "user"}, False),
    ({"$.role": ["admin", "owner"]}, {"role": ["admin", "owner"]}, False),
    ({"$.groups[*]": "admin"}, {"groups": ["user", "admin"]}, True),  # any match
    ({"$.groups[*]": "admin"}, {"groups": []}, False),
    ({"$.groups[*]": "admin"}, {}, False),
    ({"$.groups": "admin"}, {"groups": ["admin"]}, False),  # definite: the list itself
    # an object under a path holds operators: an object value is compared in a one-of list
    ({"$.o": [{"a": [1, True]}]}, {"o": {"a": [1.0, True]}}, True),
    ({"$.o": [{"a": [1, True]}]}, {"o": {"a": [1, 1]}}, False),
    ({"$.a": 1, "$.b": 2}, {"a": 1, "b": 2}, True),
    ({"$.a": 1, "$.b": 2}, {"a": 1, "b": 3}, False),
    ({"$$.service": "my-service"}, {}, True),
    ({"$$.service": "other"}, {}, False),
    ({"$.a": []}, {"a": 1}, False),  # one of nothing (check reports it: E307)
    ({"$.a[*]": []}, {"a": [1]}, False),
]


@pytest.mark.parametrize(("require", "claims", "holds"), REQUIRE_CASES)
def test_require_conditions_compare_json_values_strictly(
    compile_require: Any, require: dict[str, Any], claims: dict[str, Any], holds: bool
) -> None:
    assert compile_require(require)(claims, CONTEXT) is holds


def test_each_require_verdict_names_its_matches() -> None:
    verdicts = evaluate_require({"$.a": 1, "$.g[*]": ["x"]}, {"a": 2, "g": ["y", "x"]}, CONTEXT)
    assert [(v.path, v.holds, v.matches) for v in verdicts] == [
        ("$.a", False, (2,)),
        ("$.g[*]", True, ("y", "x")),
    ]


GLOBS = ["*", "**", "a*", "*a", "a*b", "ab*ba", "a?*", "?", "a*b*a", "", "ab"]
GLOB_TEXTS = ["", "a", "b", "ab", "aba", "abba", "ab-ba", "ba", "a\nb", 1, None, ["ab"]]


@pytest.mark.parametrize("pattern", GLOBS)
def test_a_glob_written_inline_or_as_a_matcher_agrees_with_the_interpreter(pattern: str) -> None:
    # one `*` and no `?` is written inline (startswith/endswith), others call the matcher
    require = {"$.x": {"glob": pattern}, "$.l[*]": {"glob": pattern}}
    function = generated_require(require)
    for text in GLOB_TEXTS:
        for claims in ({"x": text, "l": ["zz", text]}, {"l": [text]}):
            assert function(claims, CONTEXT) is require_holds(require, claims, CONTEXT)
    assert function({"x": "ab" if pattern != "?" else "a", "l": ["zz", "ab", "a"]},
                    CONTEXT) is (pattern in ("*", "**", "a*", "a*b", "a?*", "ab", "?"))
