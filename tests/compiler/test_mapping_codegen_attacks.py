"""The generated mapping code, attacked through config and claims.

Config text reaches `mappings.py` only through the codegen filters; claims reach the generated
functions at every request. These tests compile real configs (written as JSON, which is YAML),
load the bundle with the runtime loader and run the exchange, asserting what a user sees in the
issued token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.compiled_world import (
    NOW,
    base_config,
    compiled_service,
    exchange_for,
    upstream_token,
)
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.startup import Runtime

# Strings that would end a literal, a comment, a line or a jinja2 expression if any of them
# reached the generated code other than through `repr()` or the comment filter.
HOSTILE = [
    '"""; out[\'pwned\'] = True; """',
    "'''; out['pwned'] = True; '''",
    "x\nout['pwned'] = True\n",
    "cr\rout['pwned'] = True",
    "line\u2028sep\u2029para\x85nel\x0cff\x0bvt",
    "{{ 7 * 7 }}{% raw %}{#",
    "# not a comment",
    "back\\slash \\' \\\" \\",
    "nul\x00byte",
]


def _printable(text: str) -> str:
    """`text` without control characters (a JSONPath may not hold them)."""
    return "".join(c for c in text if c.isprintable())


def _bracket(name: str) -> str:
    """The JSONPath `$['name']` of a top-level claim."""
    return "$['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def hostile_service(tmp_path: Path) -> Runtime:
    idp_mapping: dict[str, Any] = {"sub.$": "$.sub"}
    tp_mapping: dict[str, Any] = {"sub.$": "$.sub", "all.$": "$"}
    for i, text in enumerate(HOSTILE):
        idp_mapping[f"k{i}{text}.$"] = _bracket(f"n{i}{_printable(text)}")
        tp_mapping[f"c{i}{text}"] = text
    require = {"$.flag": HOSTILE[2], _bracket("n0" + _printable(HOSTILE[0])): "value 0"}
    return compiled_service(tmp_path, base_config(idp_mapping, tp_mapping, require=require))


def hostile_claims() -> dict[str, Any]:
    claims = {f"n{i}{_printable(text)}": f"value {i}" for i, text in enumerate(HOSTILE)}
    return {**claims, "flag": HOSTILE[2]}


def test_hostile_names_and_constants_stay_data_in_the_generated_code(tmp_path: Path) -> None:
    service = hostile_service(tmp_path)
    act = exchange_for(service, upstream_token(**hostile_claims()), "svc").claims["act"]
    intermediate = {f"k{i}{text}": f"value {i}" for i, text in enumerate(HOSTILE)}
    constants = {f"c{i}{text}": text for i, text in enumerate(HOSTILE)}
    assert act == {"sub": "user-1", "all": {"sub": "user-1", **intermediate}, **constants}


def test_hostile_require_values_still_decide(tmp_path: Path) -> None:
    service = hostile_service(tmp_path)
    claims = {**hostile_claims(), "flag": HOSTILE[2].replace("\n", " ")}
    with pytest.raises(ExchangeError) as info:
        exchange_for(service, upstream_token(**claims), "svc")
    assert info.value.reason == "condition_failed"


# ---- shared state: a constant returned by one request must not be the next request's ----------

CONSTANTS = {
    "roles": ["reader", {"kind": "fixed", "tags": ["a"]}],
    "meta": {"tier": "gold", "limits": [1, 2]},
}


def test_mutating_one_issued_claim_set_never_changes_the_next(tmp_path: Path) -> None:
    text = base_config({"sub.$": "$.sub"}, {"sub.$": "$.sub", **CONSTANTS})
    service = compiled_service(tmp_path, text)
    first = exchange_for(service, upstream_token(), "svc").claims["act"]
    # what a caller (a test runner, a hook, a later refactoring) might do with the result
    first["roles"].append("admin")
    first["roles"][1]["kind"] = "changed"
    first["roles"][1]["tags"].append("root")
    first["meta"]["tier"] = "platinum"
    first["meta"]["limits"].clear()
    second = exchange_for(service, upstream_token(sub="user-2"), "svc").claims["act"]
    assert second == {"sub": "user-2", **CONSTANTS}
    # and straight through the generated function: two calls share no object
    mapping = service.bundle.tp_mappings["svc"]
    context = {"identity_provider": "upstream", "service": "svc"}
    one, two = mapping({"sub": "u"}, context), mapping({"sub": "u"}, context)
    assert one == two
    assert one["roles"] is not two["roles"] and one["roles"][1] is not two["roles"][1]
    assert one["meta"] is not two["meta"] and one["meta"]["limits"] is not two["meta"]["limits"]


# ---- claims of unexpected shapes: a definite path that does not fit leaves its key out --------

SHAPES: list[Any] = [None, True, 0, -0.0, 1.5, "text", "", [], ["only"], {}, {"b": None}]


@pytest.mark.parametrize("value", SHAPES, ids=[json.dumps(v) for v in SHAPES])
def test_a_definite_path_through_a_claim_of_another_shape_is_left_out(
    tmp_path: Path, value: Any
) -> None:
    idp_mapping = {"sub.$": "$.sub", "deep.$": "$.a.b", "second.$": "$.a[1]", "last.$": "$.a[-1]"}
    service = compiled_service(tmp_path, base_config(idp_mapping, {"all.$": "$"}))
    act = exchange_for(service, upstream_token(a=value), "svc", NOW).claims["act"]
    expected: dict[str, Any] = {"sub": "user-1"}
    if isinstance(value, dict) and "b" in value:
        expected["deep"] = value["b"]
    if isinstance(value, list) and len(value) >= 2:
        expected["second"] = value[1]
    if isinstance(value, list) and value:
        expected["last"] = value[-1]
    assert act == {"all": expected}
