"""The catalogue of codes: well-formed, the only source of codes, and the source of the docs."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

import tokensmith
from tokensmith.schema import codes, codes_doc
from tokensmith.schema.codes import CATALOGUE, Code, Severity

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "diagnostics.md"
PACKAGE = Path(tokensmith.__file__).resolve().parent


def test_every_entry_is_the_module_constant_of_its_id() -> None:
    constants = {name: value for name, value in vars(codes).items() if isinstance(value, Code)}
    assert {name: entry.id for name, entry in constants.items()} == {
        name: name for name in constants
    }
    assert set(constants) == set(CATALOGUE)
    assert all(CATALOGUE[name] is entry for name, entry in constants.items())


@pytest.mark.parametrize("entry", CATALOGUE.values(), ids=lambda entry: entry.id)
def test_an_entry_is_well_formed(entry: Code) -> None:
    assert re.fullmatch(r"[EW][1-3]\d\d", entry.id)
    assert entry.severity is (Severity.ERROR if entry.id[0] == "E" else Severity.WARNING)
    assert entry.title and entry.title == entry.title.strip() and "\n" not in entry.title
    assert len(entry.title) <= 60
    assert entry.help and "\n" not in entry.help and not entry.help.endswith(".")
    assert entry.help_uri == f"docs/diagnostics.md#{entry.id.lower()}"


def test_the_catalogue_covers_every_range() -> None:
    ranges = {code[:2] if code[0] == "E" else "W" for code in CATALOGUE}
    assert ranges == {"E1", "E2", "E3", "W"}
    assert len(CATALOGUE) >= 80


def test_an_id_cannot_be_catalogued_twice() -> None:
    with pytest.raises(ValueError, match="E101 is catalogued twice"):
        codes._define("E101", Severity.ERROR, "again", "again")
    assert CATALOGUE["E101"] is codes.E101


def _package_modules() -> list[Path]:
    # the package's layers are links to the top-level folders: follow them
    return sorted(
        Path(folder, name).resolve()
        for folder, _, names in os.walk(PACKAGE, followlinks=True)
        for name in names
        if name.endswith(".py")
    )


def test_no_module_but_the_catalogue_spells_a_code_or_makes_an_entry() -> None:
    """A code written as a string, or an entry made outside `codes.py`, would be a finding the
    catalogue (and so the docs and SARIF) does not know."""
    offenders = []
    for path in _package_modules():
        if path == Path(codes.__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            spelt = isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(
                re.fullmatch(r"[EW]\d{3}", node.value))
            made = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Code"
            if spelt or made:
                offenders.append(f"{path.name}:{getattr(node, 'lineno', '?')}")
    assert offenders == []
    assert len(_package_modules()) > 50  # the walk did find the package


def test_the_committed_page_is_what_the_catalogue_generates() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert codes_doc.render(page) == page, "run python -m tokensmith.schema.codes_doc"
    assert codes_doc.main([str(PAGE), "--check"]) == 0


@pytest.mark.parametrize("entry", CATALOGUE.values(), ids=lambda entry: entry.id)
def test_every_code_has_one_row_with_its_anchor(entry: Code) -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert page.count(f'<a id="{entry.anchor}"></a>') == 1
    assert page.count(codes_doc.row(entry)) == 1


def test_a_stale_page_is_reported_and_then_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "diagnostics.md"
    committed = PAGE.read_text(encoding="utf-8")
    stale.write_text(committed.replace(codes_doc.row(codes.E342), ""), encoding="utf-8")
    assert codes_doc.main([str(stale), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert codes_doc.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == committed


def test_a_code_in_no_table_or_in_two_is_refused() -> None:
    page = PAGE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="no table of the page takes E110, E111, E112, E113:"):
        codes_doc.render(page.replace("<!-- codes E1:", "<!-- codes E10:"))
    with pytest.raises(ValueError, match="E101 is in two tables"):
        codes_doc.render(page.replace("<!-- codes E20:", "<!-- codes E1 E20:"))


def test_a_pipe_in_a_cell_does_not_break_the_table() -> None:
    entry = Code("E999", Severity.ERROR, "a | b", "x")
    assert codes_doc.row(entry) == '| <a id="e999"></a>E999 | error | a \\| b | x |\n'
