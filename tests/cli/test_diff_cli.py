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


@pytest.mark.slow
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
    assert main(["diff", "--bundle", "old", str(bundle), NEW, "--now", NOW]) == 0
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


@pytest.mark.slow
def test_the_ci_example_posts_the_markdown_diff_against_the_base_branch(tmp_path: Path) -> None:
    """Run the workflow's diff step, as written, in a git repository with two revisions."""
    from ruamel.yaml import YAML

    workflow = YAML(typ="safe").load((ROOT / "examples" / "ci" / "tokensmith-review.yml").read_text())
    steps = {step.get("name"): step for step in workflow["jobs"]["review"]["steps"]}
    assert {"Check", "Test", "Diff against the base branch",
            "Post the diff as a PR comment"} <= set(steps)
    assert "tokensmith check" in steps["Check"]["run"]
    assert "tokensmith test" in steps["Test"]["run"]
    repo = tmp_path / "repo"
    (repo / "tokensmith").mkdir(parents=True)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                               *args], cwd=repo, check=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()

    git("init", "-q")
    shutil.copy(ROOT / OLD / "tokensmith.yaml", repo / "tokensmith" / "tokensmith.yaml")
    git("add", "."), git("commit", "-q", "-m", "base")
    base = git("rev-parse", "HEAD")
    shutil.copy(ROOT / NEW / "tokensmith.yaml", repo / "tokensmith" / "tokensmith.yaml")
    git("commit", "-q", "-am", "change")
    runner_temp, summary = tmp_path / "runner", tmp_path / "summary.md"
    runner_temp.mkdir()
    env = {**os.environ, "CONFIG": workflow["env"]["CONFIG"], "BASE_SHA": base,
           "RUNNER_TEMP": str(runner_temp), "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["bash", "-e", "-c", steps["Diff against the base branch"]["run"]], cwd=repo,
                   env=env, check=True, capture_output=True, text=True, timeout=60)
    posted = (repo / "tokensmith-diff.md").read_text()
    assert posted.startswith("<!-- tokensmith-diff -->\n## tokensmith diff\n")
    assert "- **supabase** removed" in posted
    assert "| a Supabase user is exchanged | `issued (supabase)` |" in posted
    assert summary.read_text() == posted
