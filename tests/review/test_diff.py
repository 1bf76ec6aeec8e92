"""The semantic diff: what counts as a change, field by field, on real checked configs."""

from __future__ import annotations

from pathlib import Path

from tokensmith import __version__
from tokensmith.review.diff import Diff, FieldChange, diff_sides, load_side
from tokensmith.review.flatten import flatten_mapping

BASE = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k1: {algorithm: HS256, secret: {env: K1}}
  k2: {algorithm: HS256, secret: {env: K2}}
identity_providers:
  idp:
    issuer: https://idp.example.com
    jwks: {keys: [{kty: EC, crv: P-256, kid: a, x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU, y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0}]}
    algorithms: [ES256]
    mapping: {sub.$: $.sub, org.$: $.org_id, kind: user}
token_providers:
  svc:
    signing_key: k1
    mapping: {sub.$: $.sub, org.$: $.org}
"""


def diff(tmp_path: Path, old: str, new: str) -> Diff:
    paths = []
    for name, text in (("old.yaml", old), ("new.yaml", new)):
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    sides = [load_side(path, version=__version__) for path in paths]
    return diff_sides(sides[0], sides[1], now=1_767_225_600.0)


def fields(result: Diff, name: str) -> list[FieldChange]:
    [item] = [i for i in result.items if i.name == name]
    return list(item.fields)


def test_spelling_is_not_a_change(tmp_path: Path) -> None:
    # defaults written out and durations spelled differently mean the same thing
    spelled = BASE.replace("signing_key: k1", "signing_key: k1\n    expires_in: 3600\n"
                           "    audience: svc\n    claims: act")
    assert diff(tmp_path, BASE, spelled).items == ()


def test_a_mapping_key_re_pointed_added_and_a_constant_changed(tmp_path: Path) -> None:
    new = BASE.replace("org.$: $.org_id, kind: user", "org.$: $.org.id, kind: admin, "
                       "team.$: $.team")
    assert fields(diff(tmp_path, BASE, new), "idp") == [
        FieldChange("mapping.kind", "= \"user\"", "= \"admin\""),
        FieldChange("mapping.org", "<- $.org_id", "<- $.org.id"),
        FieldChange("mapping.team", None, "<- $.team"),
    ]


def test_a_new_inline_key_is_a_key_source_change(tmp_path: Path) -> None:
    new = BASE.replace("kid: a,", "kid: b,")
    [change] = fields(diff(tmp_path, BASE, new), "idp")
    assert change.field == "key_source"
    assert change.old is not None and change.old.startswith("inline jwks (kid a; sha256 ")
    assert change.new is not None and change.new.startswith("inline jwks (kid b; sha256 ")


def test_a_token_provider_on_another_key_is_a_rotation(tmp_path: Path) -> None:
    result = diff(tmp_path, BASE, BASE.replace("signing_key: k1", "signing_key: k2"))
    [item] = result.items
    assert (item.section, item.name, item.note) == ("token_providers", "svc",
                                                    "signing key rotated")
    assert item.fields == (FieldChange("signing_key", "k1", "k2"),)


def test_require_conditions_are_compared_one_by_one(tmp_path: Path) -> None:
    old = BASE.replace("    algorithms: [ES256]\n",
                       "    algorithms: [ES256]\n    require: {$.tier: [gold, silver]}\n")
    new = old.replace("[gold, silver]", "[gold]")
    assert fields(diff(tmp_path, old, new), "idp") == [
        FieldChange("require.$.tier", 'in ["gold", "silver"]', 'in ["gold"]', "tightened")]


def test_flatten_mapping_names_nested_outputs() -> None:
    assert flatten_mapping({"a": {"b.$": "$.x", "c": 1}, "d.$": "$$.service"}) == {
        "a.b": "<- $.x", "a.c": "= 1", "d": "<- $$.service"}


def test_a_case_whose_token_changed_runs_with_the_new_token_and_says_so(tmp_path: Path) -> None:
    case = ("tests:\n  - name: a user\n    service: svc\n"
            "    token: {iss: https://idp.example.com, sub: %s, org_id: o1}\n"
            "    expect: {claims_subset: {act: {sub: %s}}}\n")
    result = diff(tmp_path, BASE + case % ("u1", "u1"), BASE + case % ("u2", "u2"))
    [change] = result.cases
    assert change.name == "a user (its token or service changed; NEW's is used)"
    assert not change.changed  # both sides issue the same claims for NEW's token
