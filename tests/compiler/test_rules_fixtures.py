"""Every rule, and every other code one YAML file can show, has a fixture config under
`tests/fixtures/rules/` (named after its code) whose last lines say exactly which findings it
must produce (`# expect: CODE line:col`, or `# expect: nothing`).

The fixtures run through the real `check` pipeline (load, presets, model, rules), so a finding
that a rule's code claims but the pipeline never reaches fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tokensmith.compiler.check import check_path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
_EXPECT = re.compile(r"^# expect: (?:nothing|(?P<code>[EW]\d{3}) (?P<line>\d+):(?P<col>\d+))$")


def _expected(path: Path) -> list[tuple[str, int, int]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line)
        if match and match["code"]:
            found.append((match["code"], int(match["line"]), int(match["col"])))
    return found


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.yaml"))


def test_there_is_a_fixture_per_rule_module() -> None:
    assert len(_fixtures()) >= 40


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.stem)
def test_fixture_gives_exactly_the_expected_findings(path: Path) -> None:
    expected = _expected(path)
    text = path.read_text(encoding="utf-8")
    assert "# expect:" in text, "a fixture must declare its expected findings"
    if path.stem.startswith(("E", "W")):
        code = path.stem.split("_")[0]
        assert any(c == code for c, _, _ in expected), "the fixture must show its own code"
    result = check_path(str(path))
    got = [(d.code, d.location.line, d.location.column) for d in result.diagnostics]
    assert got == expected
    assert all(d.location.file == str(path) for d in result.diagnostics)
    assert all(d.message and d.message[0] != " " for d in result.diagnostics)


def test_literal_secrets_are_refused_without_showing_them() -> None:
    path = FIXTURES / "E204_literal_secret.yaml"
    result = check_path(str(path))
    shown = " ".join(f"{d.message} {d.hint or ''}" for d in result.diagnostics)
    assert [d.code for d in result.diagnostics] == ["E204", "E204"]
    assert "s3cr3t-literal-value" not in shown
    assert "another-literal-value" not in shown
    assert "{env: NAME}" in shown


def test_userinfo_in_a_key_url_is_not_echoed_as_a_password() -> None:
    # The URL is the user's own text, but the password part should not be repeated back.
    result = check_path(str(FIXTURES / "E331_jwks_url_userinfo.yaml"))
    assert [d.code for d in result.diagnostics] == ["E331"]
    assert "hunter2" not in result.diagnostics[0].message
