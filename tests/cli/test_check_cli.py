"""`tokensmith check` as a user and a CI system see it: exit codes and the four formats."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tokensmith.cli import main
from tokensmith.reporters import render_github, render_sarif, render_text
from tokensmith.schema.codes import CATALOGUE, E101, E106, E200, E202, E204, E356, W320
from tokensmith.schema.diagnostics import Diagnostic, Severity
from tokensmith.schema.location import Location, SourceMap

ROOT = Path(__file__).resolve().parents[2]
#: The SARIF 2.1.0 schema as Microsoft's SARIF SDK ships it (see tests/fixtures/sarif/README.md).
SARIF_SCHEMA = ROOT / "tests" / "fixtures" / "sarif" / "sarif-2.1.0-rtm.5.json"

CLEAN = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main:
    algorithm: HS256
    secret: {env: MAIN_KEY}
identity_providers:
  login:
    issuer: https://login.example.com/
    audience: my-app
    secret: {env: LOGIN_SECRET}
    algorithms: [HS256]
    mapping: {sub.$: $.sub}
token_providers:
  svc:
    signing_key: main
    expires_in: 15m
    mapping: {sub.$: $.sub}
"""

#: Two errors: a misspelt field (line 11, column 5) and a literal secret (line 6, column 13).
BROKEN = CLEAN.replace("{env: MAIN_KEY}", "hunter2-literal").replace(
    "    secret: {env: LOGIN_SECRET}", "    secret: {env: LOGIN_SECRET}\n    jwks_uri: x"
)


def config(tmp_path: Path, text: str, name: str = "tokensmith.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_clean_config_is_silent_with_exit_0(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tokensmith", "check", config(tmp_path, CLEAN)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.slow
def test_missing_path_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tokensmith", "check", str(tmp_path / "nope.yaml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", config(tmp_path, CLEAN), "--format", "xml"])
    assert exc.value.code == 2


def test_text_findings_show_the_line_and_a_caret_under_the_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = config(tmp_path, BROKEN)
    code, out, err = run(capsys, file)
    assert code == 1
    lines = out.splitlines()
    first = lines.index(f"{file}:6:13: E204 signing_keys.main.secret: a secret is a reference, "
                        "never a literal value: write {env: NAME}, {file: PATH} or {encrypted: "
                        "TEXT}")  # fmt: skip
    # the source line of a literal secret is cut where the secret starts
    assert lines[first + 1] == "        secret: ***"
    caret = lines[first + 2]
    assert caret.index("^") == lines[first + 1].index("***")
    assert caret.strip() == "^"
    second = lines.index(f"{file}:12:5: E200 identity_providers.login: unknown field 'jwks_uri'")
    assert second > first  # sorted by position
    assert lines[second + 2].index("^") == lines[second + 1].index("jwks_uri")
    assert lines[second + 3] == "    hint: did you mean 'jwks_url'?"
    assert "2 errors, 0 warnings" in err


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_no_format_echoes_a_literal_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, _ = run(capsys, config(tmp_path, BROKEN), "--format", fmt)
    assert code == 1
    assert "hunter2" not in out


#: Values that may be secrets in places other than a well-spelt `secret:` (E200, E202, E203).
MISPLACED_SECRETS = CLEAN.replace("{env: MAIN_KEY}", "[hunter2-in-a-list]").replace(
    "    secret: {env: LOGIN_SECRET}",
    "    secert: hunter2-misspelt\n    privatekey: 'hunter2-quoted'\n"
    "    jwks_uri: https://login.example.com/keys",
)


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_a_secret_under_a_misspelt_or_wrongly_shaped_field_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, _ = run(capsys, config(tmp_path, MISPLACED_SECRETS), "--format", fmt)
    assert code == 1
    assert "hunter2" not in out
    if fmt == "text":
        assert "        secert: ***" in out.splitlines()
        assert "    hint: did you mean 'secret'?" in out.splitlines()
        # a field whose name is not a secret's keeps its whole line
        assert "        jwks_uri: https://login.example.com/keys" in out.splitlines()


def test_json_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = config(tmp_path, BROKEN)
    code, out, _ = run(capsys, file, "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert (document["version"], document["errors"], document["warnings"]) == (1, 2, 0)
    first, second = document["findings"]
    assert first == {
        "code": "E204", "severity": "error", "message": first["message"], "hint": first["hint"],
        "file": file, "line": 6, "column": 13,
    }  # fmt: skip
    assert (second["code"], second["line"], second["column"]) == ("E200", 12, 5)
    assert second["hint"] == "did you mean 'jwks_url'?"


def test_json_of_a_clean_config_is_still_a_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, config(tmp_path, CLEAN), "--format", "json")
    assert code == 0
    assert json.loads(out) == {"version": 1, "findings": [], "errors": 0, "warnings": 0}


def test_sarif_log_has_what_code_scanning_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, config(tmp_path, BROKEN), "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "tokensmith"
    assert driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["E200", "E204"]
    results = sarif_run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("E204", "error"), ("E200", "error")]
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith("tokensmith.yaml")
        assert physical["region"]["startLine"] >= 1
        assert physical["region"]["startColumn"] >= 1
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 6, "startColumn": 13,
    }  # fmt: skip


def test_sarif_rules_carry_the_catalogue_metadata() -> None:
    found = [
        Diagnostic(E204, "x", Location("a.yaml", 1, 1)),
        Diagnostic(W320, "y", Location("a.yaml", 2, 1)),
        Diagnostic(E204, "z", Location("a.yaml", 3, 1)),
    ]
    driver = json.loads(render_sarif(found, SourceMap()))["runs"][0]["tool"]["driver"]
    assert [rule["id"] for rule in driver["rules"]] == ["E204", "W320"]
    page = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert rules["W320"]["defaultConfiguration"] == {"level": "warning"}
    assert rules["E204"] == {
        "id": "E204",
        "shortDescription": {"text": "literal secret"},
        "fullDescription": {"text": CATALOGUE["E204"].help.replace("`", ""),
                            "markdown": CATALOGUE["E204"].help},
        "help": {"text": CATALOGUE["E204"].help.replace("`", ""),
                 "markdown": CATALOGUE["E204"].help
                 + "\n\n[E204 in docs/diagnostics.md](docs/diagnostics.md#e204)"},
        "helpUri": "docs/diagnostics.md#e204",
        "defaultConfiguration": {"level": "error"},
    }  # fmt: skip
    for rule_id, rule in rules.items():
        entry = CATALOGUE[rule_id]
        assert rule["shortDescription"]["text"] == entry.title.replace("`", "")
        assert rule["defaultConfiguration"]["level"] == entry.severity.value
        page_name, anchor = rule["helpUri"].split("#")
        assert (ROOT / page_name).is_file() and f'<a id="{anchor}"></a>{rule_id}' in page


def _sarif_validator() -> Any:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


def test_sarif_of_every_code_is_valid_against_the_sarif_schema() -> None:
    """Formats (`uri`) are not asserted by the validator: `helpUri` is relative on purpose
    (`docs/diagnostics.md` says why); everything else of the log must fit the schema."""
    found = [
        Diagnostic(entry, f"finding {n}", Location("configs/a b.yaml", n + 1, 1), "a hint")
        for n, entry in enumerate(CATALOGUE.values())
    ]
    log = json.loads(render_sarif(found, SourceMap()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _sarif_validator().iter_errors(log)]
    assert errors == []
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(CATALOGUE)


def test_sarif_of_a_real_check_is_valid_against_the_sarif_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for text in (BROKEN, CLEAN):
        _, out, _ = run(capsys, config(tmp_path, text), "--format", "sarif")
        assert list(_sarif_validator().iter_errors(json.loads(out))) == []


def test_github_annotations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = config(tmp_path, BROKEN)
    code, out, _ = run(capsys, file, "--format", "github")
    assert code == 1
    first, second = out.splitlines()
    escaped = file.replace(":", "%3A").replace(",", "%2C")
    assert first.startswith(f"::error file={escaped},line=6,col=13,title=E204::")
    assert second == (
        f"::error file={escaped},line=12,col=5,title=E200::identity_providers.login: "
        "unknown field 'jwks_uri' (did you mean 'jwks_url'?)"
    )


def test_github_escaping_of_properties_and_data() -> None:
    found = [
        Diagnostic(E101, "50% done\nnext: line", Location("dir,a/b:c.yaml", 3, 4)),
        Diagnostic(W320, "long", Location("a.yaml", 1, 1)),
    ]
    out = render_github(found, SourceMap())
    assert out.splitlines() == [
        "::error file=dir%2Ca/b%3Ac.yaml,line=3,col=4,title=E101::50%25 done%0Anext: line",
        "::warning file=a.yaml,line=1,col=1,title=W320::long",
    ]


def test_warnings_pass_unless_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = config(tmp_path, CLEAN.replace("expires_in: 15m", "expires_in: 2d"))
    code, out, err = run(capsys, file)
    assert code == 0
    assert f"{file}:17:17: W320 `expires_in` of token provider 'svc' is 2d" in out
    assert "0 errors, 1 warning" in err
    assert run(capsys, file, "--strict")[0] == 1
    document = json.loads(run(capsys, file, "--format", "json")[1])
    assert document["findings"][0]["severity"] == Severity.WARNING.value


def test_directory_findings_are_sorted_by_file_then_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = config(tmp_path, "version: 1\nissuer: x\nissuer: y\n", "a.yaml")
    # b's duplicate key is found while parsing, before the merge finds `issuer` twice (`version`
    # may be stated in every file)
    b = config(tmp_path, "issuer: z\nk: 1\nk: 2\n", "b.yaml")
    code, out, _ = run(capsys, str(tmp_path), "--format", "json")
    assert code == 1
    findings = json.loads(out)["findings"]
    found = [(f["file"], f["line"], f["code"]) for f in findings]
    assert found == [(a, 3, "E102"), (b, 1, "E107"), (b, 3, "E102")]
    assert f"{a}:2" in findings[1]["message"]


def test_sarif_uris_are_relative_as_given_or_file_uris() -> None:
    found = [
        Diagnostic(E101, "x", Location("./configs/a b.yaml", 1, 1)),
        Diagnostic(E101, "x", Location("/srv/config/c.yaml", 1, 1)),
    ]
    results = json.loads(render_sarif(found, SourceMap()))["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris == ["configs/a%20b.yaml", "file:///srv/config/c.yaml"]


def test_text_caret_keeps_tabs_and_skips_unknown_files() -> None:
    source_map = SourceMap(texts={"a.yaml": "k: [\tx, y]\n"})
    found = [
        Diagnostic(E202, "bad", Location("a.yaml", 1, 6), "a hint"),
        Diagnostic(E106, "no files", Location("configs", 1, 1)),
    ]
    assert render_text(found, source_map) == (
        "a.yaml:1:6: E202 bad\n    k: [\tx, y]\n        \t^\n    hint: a hint\n"
        "configs:1:1: E106 no files\n"
    )


def test_text_cuts_a_source_line_where_its_secret_starts() -> None:
    sm = SourceMap(texts={"c.yaml": "a: 1\nsecret: hunter2\nkeep: this\n"})
    cut = dataclasses.replace(
        Diagnostic(E200, "unknown", Location("c.yaml", 2, 1)), secret_at=Location("c.yaml", 2, 9)
    )
    elsewhere = dataclasses.replace(  # a cut on another line than the finding's is no cut
        Diagnostic(E200, "unknown", Location("c.yaml", 3, 1)), secret_at=Location("c.yaml", 2, 9)
    )
    out = render_text([cut, elsewhere], sm).splitlines()
    assert out[1:3] == ["    secret: ***", "    ^"]
    assert out[4] == "    keep: this"


@pytest.mark.parametrize("column", [1, 5000, 10_000])
def test_text_shows_a_window_of_a_very_long_line_with_the_caret_in_it(column: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(10_000)) + "\n"
    found = Diagnostic(E202, "x", Location("c.json", 1, column))
    _, source, caret = render_text([found], SourceMap(texts={"c.json": text})).splitlines()[:3]
    assert len(source) <= 4 + 3 + 120 + 3
    assert source[caret.index("^")] == text[column - 1]
    assert source.startswith("    ...") == (column > 1)
    assert source.endswith("...") == (column < 10_000)


def test_every_finding_on_a_line_with_a_secret_is_cut_at_the_first_one() -> None:
    sm = SourceMap(texts={"c.yaml": "origins: [https://u:pw@a.test, 'ftp://b.test']\n"})
    secret = dataclasses.replace(
        Diagnostic(E356, "x", Location("c.yaml", 1, 11)), secret_at=Location("c.yaml", 1, 11)
    )
    later = Diagnostic(E356, "y", Location("c.yaml", 1, 32))
    out = render_text([secret, later], sm).splitlines()
    assert "pw" not in "\n".join(out)
    assert out[1] == out[4] == "    origins: [***"
    assert out[5].index("^") == out[4].index("***")  # the caret stays on the shown text
