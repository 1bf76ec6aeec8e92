"""`tokensmith diff` through the real CLI: the golden diff of two revisions, bundles, exit codes.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest ...`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tokensmith.cli import main

ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = "tests/fixtures/diff/old", "tests/fixtures/diff/new"
GOLDEN = ROOT / "tests" / "golden" / "diff"
NOW = "1767225600"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokensmith", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("markdown", "md"), ("json", "json")])
def test_the_diff_of_two_revisions_matches_the_golden_file(fmt: str, suffix: str) -> None:
    done = run_cli("diff", OLD, NEW, "--format", fmt, "--now", NOW)
    assert done.returncode == 0, done.stderr
    golden = GOLDEN / f"old-new.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(done.stdout)
    assert done.stdout == golden.read_text()


def test_the_golden_diff_names_what_a_reviewer_must_see() -> None:
    text = (GOLDEN / "old-new.txt").read_text()
    for line in (
        "identity provider supabase: removed",
        "identity provider github: added",
        "  + require: $.repository_owner = \"acme\"",
        "  mapping.role: (absent) -> <- $.app_metadata.role",
        "  expires_in: 10m -> 15m",
        "signing key sbk_main: changed (rotated)",
        "  a Supabase user is exchanged: issued (supabase) -> refused: invalid_request "
        "(untrusted_issuer)",
        "    act.role: (absent) -> \"admin\"",
    ):
        assert line in text.splitlines()


def test_a_bundle_diffs_against_a_config_with_the_other_sides_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    bundle = tmp_path / "bundle"
    assert main(["compile", OLD, "-o", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["diff", str(bundle), NEW, "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "  mapping.role: (absent) -> <- $.app_metadata.role" in out  # mapping kept in bundle
    assert "identity provider supabase: removed" in out
    # only NEW's cases run: the Supabase case exists in OLD's config, not in the bundle
    assert "test cases: 2 changed, 1 unchanged" in out
    assert f"note: {bundle} is a bundle: it has no tests of its own" in out


def test_no_change_and_the_same_config(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["diff", NEW, NEW, "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "no change to the configuration" in out
    assert "test cases: 0 changed, 3 unchanged" in out


def test_a_side_failing_check_exits_1_and_a_missing_side_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / NEW, broken)
    config = broken / "tokensmith.yaml"
    config.write_text(config.read_text().replace("preset: auth0", "preset: auth"))
    assert main(["diff", OLD, str(broken)]) == 1
    err = capsys.readouterr().err
    assert "does not pass `tokensmith check`" in err and "E260" in err
    assert main(["diff", OLD, str(tmp_path / "missing")]) == 2


def test_a_rotated_sealed_secret_is_shown_by_fingerprint_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    sides = []
    for name, sealed in (("a", "tsv1:AAAAsealedtextONE"), ("b", "tsv1:BBBBsealedtextTWO")):
        side = tmp_path / name
        shutil.copytree(ROOT / NEW, side)
        config = side / "tokensmith.yaml"
        config.write_text(config.read_text().replace(
            "{env: TOKENSMITH_SBK_MAIN_2025}", f"{{encrypted: '{sealed}'}}"))
        sides.append(str(side))
    assert main(["diff", *sides, "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "signing key sbk_main: changed (rotated)" in out
    assert "sealedtext" not in out
    assert "{encrypted} (sha256 " in out
