"""The docs stand alone: they cite no file outside the repository, and the tests they cite exist."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Folders that are not the project's text: environments, build output, recorded data.
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "build", "dist", "__pycache__"}
SKIPPED_PREFIXES = ("tests/golden/", "tests/fixtures/")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".j2", ".cfg", ".txt", ".sh"}
TEXT_NAMES = {"Dockerfile", "run"}

#: Ways of pointing at documents that live outside this repository (the notes of the sessions
#: that built it): a reader of the repository cannot follow any of them.
OUTSIDE_REFERENCES = [
    re.compile(r"\bSPEC\b"),
    re.compile(r"jwt-attacks"),
    re.compile(r"\bresearch/"),
    re.compile(r"\.\./shared\b"),
    re.compile(r"/work/"),
    re.compile(r"\bSTYLE\.md\b"),
    re.compile(r"\b(statebacked|anchors)\.md\b"),
    re.compile(r"\bthe spec\b", re.IGNORECASE),
]

#: Pages whose tables name the tests that prove each row.
PAGES_CITING_TESTS = ("docs/threat-model.md", "docs/security.md", "docs/jwks.md")


def _project_text_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        # Pruned in place, so environments and recorded data are never walked into; links
        # (the layer links under tokensmith/) are not followed, their targets are walked once.
        dirs[:] = sorted(
            name for name in dirs
            if name not in SKIPPED_DIRS and not name.endswith(".egg-info")
            and not (Path(folder) / name).is_symlink()
        )
        for name in sorted(files):
            path = Path(folder) / name
            if path.relative_to(ROOT).as_posix().startswith(SKIPPED_PREFIXES):
                continue
            if path.suffix in TEXT_SUFFIXES or name in TEXT_NAMES:
                yield path


def test_no_file_cites_a_document_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    found = []
    for path in _project_text_files():
        if path.resolve() == this_file:
            continue
        text = path.read_text(encoding="utf-8")
        if not any(pattern.search(text) for pattern in OUTSIDE_REFERENCES):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            found += [
                f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                for pattern in OUTSIDE_REFERENCES
                if pattern.search(line)
            ]
    assert found == [], "say it in the repository's own words:\n" + "\n".join(found)


def test_the_scan_sees_docs_code_and_tests() -> None:
    # The test above proves nothing if the walk misses the files it is about.
    seen = {path.relative_to(ROOT).as_posix() for path in _project_text_files()}
    for expected in ("README.md", "CHANGELOG.md", "docs/threat-model.md", "bench/README.md",
                     "runtime/exchange.py", "schema/models.py", "tokensmith/cli.py",
                     "tests/runtime/test_exchange_attacks.py", ".ci/run"):
        assert expected in seen
    assert not any(name.startswith(".venv/") for name in seen)


def test_the_scan_flags_each_kind_of_outside_reference() -> None:
    samples = ["as SPEC §6 asks", "see research/jwt-attacks.md", "../shared/notes",
               "/work/venv/bin/python", "STYLE.md", "statebacked.md §4", "The spec says so"]
    for sample in samples:
        assert any(pattern.search(sample) for pattern in OUTSIDE_REFERENCES), sample
    assert not any(pattern.search("_SPECIAL_FLOAT, RFC 7515 §2") for pattern in OUTSIDE_REFERENCES)


def _tests_named_on(page: str) -> Iterator[tuple[str, str]]:
    """(file, test name) for each `file.py::name` and each `::name` after it on the same line."""
    token = re.compile(r"`((?:[\w./]+\.py)?)(?:::(\w+))?`")
    for line in (ROOT / page).read_text(encoding="utf-8").splitlines():
        current = ""
        for file, name in token.findall(line):
            current = file or current
            if name and current:
                yield current, name


def _test_file(name: str) -> Path:
    if "/" in name:
        return ROOT / name
    matches = sorted((ROOT / "tests").rglob(name))
    assert len(matches) == 1, f"{name}: {len(matches)} test files of that name"
    return matches[0]


@pytest.mark.parametrize("page", PAGES_CITING_TESTS)
def test_every_test_a_page_cites_exists(page: str) -> None:
    cited = list(_tests_named_on(page))
    assert cited
    missing = []
    for file, name in cited:
        path = _test_file(file)
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if not re.search(rf"^(async )?def {name}\(", text, re.M):
            missing.append(f"{file}::{name}")
    assert missing == [], f"{page} cites tests that do not exist: {missing}"


def test_every_fixture_the_threat_model_cites_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    fixtures = re.findall(r"`([EW]\d{3}_\w+\.yaml)`", text)
    assert len(fixtures) >= 20
    rules = ROOT / "tests" / "fixtures" / "rules"
    assert [name for name in fixtures if not (rules / name).is_file()] == []


@pytest.mark.parametrize("page", PAGES_CITING_TESTS)
def test_every_bare_test_name_a_page_cites_is_defined(page: str) -> None:
    # Rows that name a test without its file (the file is named once above the table).
    names = set(re.findall(r"`(test_\w+)`", (ROOT / page).read_text(encoding="utf-8")))
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^(?:async )?def (test_\w+)\(", path.read_text("utf-8"), re.M))
    assert sorted(names - defined) == [], f"{page} names tests that do not exist"
