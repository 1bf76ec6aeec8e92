"""The configs under `examples/` are what users copy: each must pass `check` with no finding,
warnings included, and validate against the JSON Schema that `tokensmith schema` prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tokensmith.cli import main
from tokensmith.compiler.check import check_path
from tokensmith.schema.loader import load_config_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {"quickstart", "auth0", "supabase", "cognito", "clerk", "firebase", "github-actions"}


def _example_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if (p / "tokensmith.yaml").is_file())


def test_every_promised_example_exists() -> None:
    assert {p.name for p in _example_dirs()} >= EXPECTED


@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_example_passes_check_with_no_finding(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = check_path(str(example))
    assert [str(d.location) + " " + d.code for d in result.diagnostics] == []
    assert result.config is not None and result.config.tests, "examples carry tests"
    assert main(["check", "--strict", str(example)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_example_tests_pass_and_it_compiles(
    example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", str(example)]) == 0
    assert ", 0 failed" in capsys.readouterr().out
    assert main(["compile", str(example), "-o", str(tmp_path / "bundle")]) == 0
    assert (tmp_path / "bundle" / "manifest.json").is_file()


@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_example_opens_with_a_comment_block(example: Path) -> None:
    lines = (example / "tokensmith.yaml").read_text(encoding="utf-8").splitlines()
    head = lines[: next(i for i, line in enumerate(lines) if not line.startswith("#"))]
    assert len(head) >= 3, "say what the example is and what to set"


@pytest.fixture(scope="module")
def config_schema() -> dict[str, Any]:
    printed = subprocess.run(
        [sys.executable, "-m", "tokensmith", "schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    schema: dict[str, Any] = json.loads(printed)
    return schema


@pytest.mark.slow
@pytest.mark.parametrize("example", _example_dirs(), ids=lambda p: p.name)
def test_example_validates_against_the_json_schema(
    example: Path, config_schema: dict[str, Any]
) -> None:
    data = load_config_source(str(example / "tokensmith.yaml")).data
    validator = jsonschema.Draft202012Validator(config_schema)
    assert [error.message for error in validator.iter_errors(data)] == []


@pytest.mark.slow
def test_the_schema_rejects_a_misspelt_field(config_schema: dict[str, Any]) -> None:
    # guards the test above against a schema that accepts anything
    data = load_config_source(str(EXAMPLES / "auth0" / "tokensmith.yaml")).data
    broken = json.loads(json.dumps(data))
    broken["identity_providers"]["auth0"]["jwks_uri"] = "https://x/"
    assert list(jsonschema.Draft202012Validator(config_schema).iter_errors(broken))
