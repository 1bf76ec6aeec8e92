"""`.pre-commit-hooks.yaml` through the real pre-commit: `pre-commit try-repo` in a temporary git
repository, installing tokensmith from a snapshot of this checkout as pre-commit users would get
it from a tag.

Each `try-repo` makes a fresh pre-commit store, so pre-commit builds a virtualenv and installs
tokensmith and its dependencies from PyPI every time (a minute or so): slow, and bounded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pre_commit  # noqa: F401 - the test extra installs it; a missing tool fails here
import pytest
import yaml

from .repo_snapshot import CONFIG, ROOT, new_repository, snapshot

pytestmark = pytest.mark.slow

INSTALL_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("hooks") / "tokensmith"
    return path, snapshot(path)


def try_repo(user: Path, repo: tuple[Path, str]) -> subprocess.CompletedProcess[str]:
    """Every hook of the repository, on every file of `user`, as `pre-commit try-repo` runs it."""
    path, rev = repo
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(path), "--ref", rev,
         "--all-files", "--color", "never", "--verbose"],
        cwd=user, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip


def test_the_manifest_declares_both_hooks_on_the_whole_config() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in hooks] == ["tokensmith-check", "tokensmith-test"]
    for hook in hooks:
        # a directory config is judged whole: never one changed file at a time
        assert hook["pass_filenames"] is False
        assert hook["language"] == "python"


def test_a_clean_config_passes_both_hooks(
    tmp_path: Path, hooks_repo: tuple[Path, str]
) -> None:
    user = tmp_path / "user"
    new_repository(user, {"tokensmith.yaml": CONFIG, "README.md": "a service\n"})
    run = try_repo(user, hooks_repo)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert _verdict(out, "tokensmith check") == "Passed"
    assert _verdict(out, "tokensmith test") == "Passed"
    assert "1 passed, 0 failed" in out


def test_a_broken_config_fails_with_the_located_finding(
    tmp_path: Path, hooks_repo: tuple[Path, str]
) -> None:
    user = tmp_path / "user"
    broken = CONFIG.replace("jwks_url:", "jwks_uri:").replace("key: main,", "key: mian,")
    new_repository(user, {"tokensmith.yaml": broken})
    run = try_repo(user, hooks_repo)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert _verdict(out, "tokensmith check") == "Failed"
    assert "tokensmith.yaml:9:5: E200 identity_providers.login: unknown field 'jwks_uri'" in out
    assert "tokensmith.yaml:13:25: E342 " in out  # both findings, in one run
    assert _verdict(out, "tokensmith test") == "Failed"
    assert "the config does not pass `tokensmith check`; no test was run" in out


def _verdict(output: str, hook: str) -> str:
    """`Passed` or `Failed` from the hook's status line (`tokensmith check.....Passed`)."""
    for line in output.splitlines():
        if line.startswith(hook + "."):
            return line.rsplit(".", 1)[1].strip()
    raise AssertionError(f"no status line for {hook!r} in:\n{output}")
