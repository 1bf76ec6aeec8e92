"""The runtime's published mapping API, which generated code imports."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from typing import Any

import pytest

from tokensmith.runtime import mapping_api
from tokensmith.runtime.mapping_api import MISSING, compile_path, copy_json, json_equal, json_in


def test_the_published_names_are_exactly_what_generated_code_may_use() -> None:
    assert mapping_api.__all__ == [
        "MISSING", "compile_glob", "compile_path", "copy_json", "json_equal", "json_in",
    ]  # fmt: skip


def test_missing_is_one_falsy_value_that_equals_no_json_value() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
    assert type(MISSING)() is MISSING
    values: tuple[Any, ...] = (None, False, 0, "", [], {})
    assert all(v != MISSING for v in values)


EQUAL = [
    (True, True, True),
    (True, 1, False),
    (False, 0, False),
    (1, 1.0, True),
    (1, "1", False),
    (None, None, True),
    (None, False, False),
    ("a", "a", True),
    ([1, True], [1.0, True], True),
    ([1, True], [1, 1], False),
    ([1], [1, 1], False),
    ({"a": 1, "b": [None]}, {"b": [None], "a": 1.0}, True),
    ({"a": 1}, {"a": True}, False),
    ({"a": 1}, {"b": 1}, False),
    ([], {}, False),
]


@pytest.mark.parametrize(("left", "right", "equal"), EQUAL)
def test_json_equal_is_strict_about_types(left: Any, right: Any, equal: bool) -> None:
    assert json_equal(left, right) is equal
    assert json_equal(right, left) is equal
    assert json_in(left, ("other", right)) is equal


def test_compile_path_finds_values_in_document_order() -> None:
    find = compile_path("$.teams[?(@.admin == true)].name")
    assert find({"teams": [{"name": "x", "admin": True}, {"name": "y", "admin": 1}]}) == ["x"]
    assert find({"teams": "none"}) == []
    assert compile_path("$..id")({"a": {"id": 1}, "b": [{"id": 2}]}) == [1, 2]


def test_copy_json_copies_containers_deeply() -> None:
    value = {"a": [1, {"b": 2}]}
    copied = copy_json(value)
    copied["a"][1]["b"] = 3
    assert value == {"a": [1, {"b": 2}]}
    assert copy_json("text") == "text"


@pytest.mark.slow
def test_a_bundle_without_indefinite_paths_never_loads_jsonpath_ng() -> None:
    probe = (
        "import sys, tokensmith.runtime.mapping_api as m\n"
        "assert m.json_in(1, (1.0,))\n"
        "print('jsonpath_ng' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
