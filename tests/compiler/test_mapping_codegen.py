"""The generated module: golden files, determinism, safety with hostile input, its imports.

Golden files live in `tests/golden/mappings/`: `<case>.json` holds the input mappings and
`<case>.py` the module generated from it; `examples-<name>.py` pins the module of
`examples/<name>/tokensmith.yaml`. After an intended change to the generated code, regenerate
them with

    TOKENSMITH_REGENERATE_GOLDEN=1 pytest tests/compiler/test_mapping_codegen.py

and review the diff.
"""

from __future__ import annotations

import ast
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from tokensmith.compiler.bundle import build_bundle
from tokensmith.compiler.check import check_path
from tokensmith.compiler.mappings import (
    Origin,
    generate_config_module,
    generate_module,
    lower_mapping,
    lower_require,
)
from tokensmith.compiler.mappings.codegen import comment_text, identifier, py_literal
from tokensmith.compiler.mappings.interpreter import apply_mapping

from ._mapping_support import CONTEXT, canonical, load_module, require_holds

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "mappings"
EXAMPLES = sorted(p.parent.name for p in (REPO / "examples").glob("*/tokensmith.yaml"))
REGENERATE = os.environ.get("TOKENSMITH_REGENERATE_GOLDEN") == "1"
VERSION = "0.0.0-golden"


def _module_of(case: dict[str, Any], shuffle: random.Random | None = None) -> str:
    """Generate the module of a golden case; `shuffle` reorders every table first."""

    def table(section: str, field: str) -> dict[str, Any]:
        names = [n for n in case.get(section, {}) if field in case[section][n]]
        if shuffle is not None:
            shuffle.shuffle(names)
        lower = lower_require if field == "require" else lower_mapping
        return {
            n: lower(case[section][n][field], Origin(f"{section}.yaml", 1 + i))
            for i, n in enumerate(sorted(names))
        }

    sources = ["token_providers.yaml", "identity_providers.yaml"]
    return generate_module(
        table("identity_providers", "mapping"),
        table("identity_providers", "require"),
        table("token_providers", "mapping"),
        sources,
        VERSION,
        table("token_providers", "require"),
    )


def _compare_golden(path: Path, text: str) -> None:
    if REGENERATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with TOKENSMITH_REGENERATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from the golden file"


CASES = sorted(p.stem for p in GOLDEN.glob("*.json"))


@pytest.mark.parametrize("case", CASES)
def test_generated_module_matches_its_golden_file(case: str) -> None:
    data = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    _compare_golden(GOLDEN / f"{case}.py", _module_of(data))


@pytest.mark.parametrize("example", EXAMPLES)
def test_generated_module_of_each_example_matches_its_golden_file(example: str) -> None:
    result = check_path(str(REPO / "examples" / example / "tokensmith.yaml"))
    assert result.ok and result.config is not None
    text = generate_config_module(
        result.config, result.source_map, result.loaded.files, VERSION, root=result.loaded.root
    )
    _compare_golden(GOLDEN / f"examples-{example}.py", text)


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_bundle_ships_the_golden_module_of_each_example(example: str) -> None:
    # compile writes mappings.py through its own lowering loop (compiler/bundle.py); this keeps
    # what it ships equal to the golden files, which `generate_config_module` produces.
    result = check_path(str(REPO / "examples" / example / "tokensmith.yaml"))
    shipped = build_bundle(result, version=VERSION)["mappings.py"].decode("utf-8")
    golden = (GOLDEN / f"examples-{example}.py").read_text(encoding="utf-8")
    assert shipped == golden


def test_there_are_golden_cases() -> None:
    assert {"seed", "kitchen-sink", "conditions"} <= set(CASES)
    assert "quickstart" in EXAMPLES


@pytest.mark.parametrize("case", CASES)
def test_generation_is_deterministic_whatever_the_order_of_names(case: str) -> None:
    data = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    first = _module_of(data)
    for seed in range(5):
        assert _module_of(data, random.Random(seed)).encode() == first.encode()


@pytest.mark.parametrize("case", CASES)
def test_generated_functions_agree_with_the_interpreter(case: str) -> None:
    data = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    module = load_module(_module_of(data))
    for claims in data["claims"]:
        for name, idp in data.get("identity_providers", {}).items():
            got = module["IDENTITY_PROVIDER_MAPPINGS"][name](claims, CONTEXT)
            assert canonical(got) == canonical(apply_mapping(idp["mapping"], claims, CONTEXT))
            if "require" in idp:
                holds = module["IDENTITY_PROVIDER_REQUIREMENTS"][name](claims, CONTEXT)
                assert holds is require_holds(idp["require"], claims, CONTEXT)
        for name, tp in data.get("token_providers", {}).items():
            got = module["TOKEN_PROVIDER_MAPPINGS"][name](claims, CONTEXT)
            assert canonical(got) == canonical(apply_mapping(tp["mapping"], claims, CONTEXT))
            if "require" in tp:
                holds = module["TOKEN_PROVIDER_REQUIREMENTS"][name](claims, CONTEXT)
                assert holds is require_holds(tp["require"], claims, CONTEXT)


def test_the_module_imports_only_the_published_mapping_api() -> None:
    data = json.loads((GOLDEN / "kitchen-sink.json").read_text(encoding="utf-8"))
    tree = ast.parse(_module_of(data))
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [(i.module, [a.name for a in i.names]) for i in imports] == [  # type: ignore[union-attr]
        ("tokensmith.runtime.mapping_api", ["MISSING", "compile_path", "json_in"])
    ]
    from tokensmith.runtime import mapping_api

    assert set(mapping_api.__all__) >= {"MISSING", "compile_path", "json_in"}


HOSTILE = [
    "'",
    '"',
    '"""',
    "'''",
    "\\",
    "a\nb",
    "a\rb",
    "\u2028",
    "\x00",
    "\ud800",
    "é ☃ 𝄞",
    "__import__('os').system('echo pwned')",
    "'); __import__('os').system('x'); ('",
    "# comment",
    "}",
    "{{ module }}",
    "{% raw %}",
]


@pytest.mark.slow
def test_hostile_names_keys_and_constants_stay_data(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    evil = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    strings = [*HOSTILE, evil, f"\n{evil}\n", f"'''\n{evil}\n'''", f'"""\n{evil}\n"""']
    mapping: dict[str, Any] = {s: s for s in strings}
    mapping.update({f"{s}p.$": f"$[{json.dumps(s)}]" for s in strings})
    mapping.update({f"{s}w.$": f"$.*[{json.dumps(s)}]" for s in strings})  # compile_path
    mapping["nested"] = [{s: [s]} for s in strings]
    origin = Origin("\n" + evil + "\n.yaml", 7)
    lowered = {s: lower_mapping(mapping, origin) for s in strings}
    requirements = {s: lower_require({f"$[{json.dumps(s)}]": s}, origin) for s in strings[:3]}
    service_require = {
        s: {
            f"$[{json.dumps(s)}]": {"glob": f"*{s}?", "prefix": s},
            f"$['{s[:0]}x y']": {"suffix": s, "exists": True},
            "any_of": [{f"$.*[{json.dumps(s)}]": {"contains": s}}, {"not": {"$.x": s}}],
        }
        for s in strings
    }
    service_requirements = {s: lower_require(r, origin) for s, r in service_require.items()}
    text = generate_module(lowered, requirements, lowered, strings, evil, service_requirements)
    module = load_module(text)
    assert not marker.exists()
    assert "compile_path" in text
    claims: dict[str, Any] = {s: f"claim {s}" for s in strings}
    claims["nested"] = {s: s for s in strings}
    for name in strings:
        got = module["IDENTITY_PROVIDER_MAPPINGS"][name](claims, CONTEXT)
        assert got == apply_mapping(mapping, claims, CONTEXT)
        assert got[strings[0]] == strings[0]
        assert module["TOKEN_PROVIDER_MAPPINGS"][name] is not None
    assert list(module["IDENTITY_PROVIDER_MAPPINGS"]) == sorted(strings)
    assert module["IDENTITY_PROVIDER_REQUIREMENTS"][strings[0]]({strings[0]: strings[0]}, CONTEXT)
    for s in strings:
        require = module["TOKEN_PROVIDER_REQUIREMENTS"][s]
        passing, failing = {s: s + s + "!", "x y": "z" + s}, {s: "other", "x y": "z" + s}
        assert require(passing, CONTEXT) is require_holds(service_require[s], passing, CONTEXT)
        assert require(failing, CONTEXT) is False
        if json.dumps(s) == f'"{s}"':
            # the path spells s without escapes, so it reads the claim named s: the glob `*s?`
            # and the prefix `s` hold on s + s + "!", and `not {$.x: s}` holds
            assert require(passing, CONTEXT) is True
    # every function name is a plain identifier, whatever the provider is called
    names = [n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)]
    assert all(n.isascii() and n.isidentifier() for n in names)
    assert not marker.exists()


def test_filters_refuse_what_is_not_json_or_not_an_identifier() -> None:
    assert (
        py_literal({"a": [1, 2.5, None, True, "x'\"y"]})
        == """{"a": [1, 2.5, None, True, 'x\\'"y']}"""
    )
    for bad in (float("inf"), float("nan"), (1, 2), {1: "a"}, b"x", object(), {"k": {3}}):
        with pytest.raises(ValueError):
            py_literal(bad)
    assert identifier("idp_0001_auth0") == "idp_0001_auth0"
    for bad_name in ("a b", "1a", "class", "a.b", "é", "", "a\n"):
        with pytest.raises(ValueError):
            identifier(bad_name)
    assert comment_text("a\nb\r\x00\u2028c") == "a\\nb\\r\\x00\\u2028c"
