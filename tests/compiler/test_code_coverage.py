"""Every catalogued code is reachable: a config produces it through the real `check` pipeline.

Each code has an example: a fixture `tests/fixtures/rules/<CODE>_*.yaml` (whose exact findings
`test_rules_fixtures.py` pins), or, for what one YAML file cannot show (a directory, bytes that
are not UTF-8, a file over the size limit), a config made here. A code no config can reach is
listed in `UNREACHABLE` with the reason. The other direction, that every code produced is
catalogued, holds by construction (a `Diagnostic` is built from a catalogue entry and
`tests/schema/test_codes.py` finds no entry made elsewhere); here every finding of every example
is also checked to carry the catalogue's own entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tokensmith.compiler.check import check_path
from tokensmith.schema.codes import CATALOGUE
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.loader import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "rules"
EXAMPLES = sorted((ROOT / "examples").glob("*/*.yaml"))

#: Codes that no config can produce, and why they stay catalogued.
UNREACHABLE = {
    "E209": "the fallback for a refusal of the model that has no code of its own; every refusal "
    "the model makes today has one (E200-E207), so it only guards against a later pydantic",
}

VALID = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main: {algorithm: HS256, secret: {env: SIGNING_KEY}}
identity_providers:
  acme:
    issuer: https://login.acme.test/
    audience: acme-api
    jwks_url: https://login.acme.test/.well-known/jwks.json
    algorithms: [RS256]
token_providers:
  api: {signing_key: main}
"""


def _not_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "tokensmith.yaml"
    path.write_bytes(VALID.encode() + b"# caf\xe9\n")
    return path


def _empty_directory(tmp_path: Path) -> Path:
    (tmp_path / "README.md").write_text("no config here\n", encoding="utf-8")
    return tmp_path


def _defined_in_two_files(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("signing_keys:\n  main: {algorithm: HS256, secret: "
                                     "{env: OTHER}}\n", encoding="utf-8")
    return tmp_path


def _versions_differ(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("version: 2\ntests: []\n", encoding="utf-8")
    return tmp_path


def _too_large(tmp_path: Path) -> Path:
    path = tmp_path / "tokensmith.yaml"
    path.write_bytes(VALID.encode() + b"#" * MAX_FILE_BYTES + b"\n")
    return path


#: Codes whose example is not one YAML file: a config made in a fresh directory.
MADE: dict[str, Callable[[Path], Path]] = {
    "E103": _not_utf8,
    "E106": _empty_directory,
    "E107": _defined_in_two_files,
    "E112": _too_large,
    "E113": _versions_differ,
}


def _fixtures(code: str) -> list[Path]:
    return sorted(FIXTURES.glob(f"{code}_*.yaml"))


def _check(path: Path) -> list[Diagnostic]:
    found = list(check_path(str(path)).diagnostics)
    for d in found:
        assert d.entry is CATALOGUE[d.code], f"{d.code} is not the catalogue's entry"
    return found


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogued_code_has_an_example_that_produces_it(
    code: str, tmp_path: Path
) -> None:
    fixtures = _fixtures(code)
    if code in UNREACHABLE:
        assert not fixtures and code not in MADE, f"{code} is unreachable yet has an example"
        return
    assert fixtures or code in MADE, f"{code} has no example"
    assert not (fixtures and code in MADE), f"{code} has two kinds of example"
    paths = fixtures or [MADE[code](tmp_path)]
    for path in paths:
        assert code in {d.code for d in _check(path)}, f"{path.name} does not produce {code}"


def test_every_range_is_covered() -> None:
    reachable = set(CATALOGUE) - set(UNREACHABLE)
    ranges = {code[:2] if code[0] == "E" else "W" for code in reachable}
    assert ranges == {"E1", "E2", "E3", "W"}
    assert set(UNREACHABLE) <= set(CATALOGUE)


def test_every_fixture_is_named_after_a_catalogued_code() -> None:
    named = {p.name.split("_")[0] for p in FIXTURES.glob("*.yaml") if p.name[0] in "EW"}
    assert named and named <= set(CATALOGUE)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_examples_findings_are_catalogued(path: Path) -> None:
    _check(path)  # the examples are clean or warn; whatever they give must be catalogued
