"""A git repository holding this checkout's working tree as it is now, for tools that install a
repository from git (pre-commit, a GitHub Action's `action_path`).

A tool that clones a path takes its last commit, not its working tree: tests would then run the
committed hooks instead of the ones being changed. The snapshot commits every file git tracks or
would track (untracked files that `.gitignore` does not exclude), symbolic links kept as links.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: git without the machine's or the user's configuration, and with an author for commits.
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "tokensmith tests",
    "GIT_AUTHOR_EMAIL": "tests@tokensmith.invalid",
    "GIT_COMMITTER_NAME": "tokensmith tests",
    "GIT_COMMITTER_EMAIL": "tests@tokensmith.invalid",
}


#: A user's small config with one passing test case, as a repository under review holds it.
CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main: {algorithm: HS256, secret: {env: MAIN_KEY}}
identity_providers:
  login:
    issuer: https://login.example.com/
    audience: my-app
    jwks_url: https://login.example.com/.well-known/jwks.json
    algorithms: [RS256]
    mapping: {sub.$: $.sub, email.$: $.email}
token_providers:
  orders: {signing_key: main, mapping: {sub.$: $.sub}}
tests:
  - name: a user is exchanged
    service: orders
    token: {iss: https://login.example.com/, aud: my-app, sub: u1, email: a@b.c}
    expect: {claims_subset: {act: {sub: u1}}}
"""

def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd` and return its standard output; raise on failure."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def new_repository(path: Path, files: dict[str, str]) -> str:
    """A git repository at `path` holding `files` (name -> text), committed; its commit."""
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=path)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    return commit_all(path, "initial")


def commit_all(path: Path, message: str) -> str:
    git("add", "-A", cwd=path)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=path)
    return git("rev-parse", "HEAD", cwd=path).strip()


def snapshot(target: Path) -> str:
    """Copy this checkout's working tree to `target` as a new repository; its commit."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    target.mkdir(parents=True)
    for name in sorted(set(filter(None, listed.split("\0")))):
        source, copy = ROOT / name, target / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the working tree, or a directory (a submodule)
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), copy)
        else:
            shutil.copy2(source, copy)
    git("init", "-q", "-b", "main", cwd=target)
    return commit_all(target, "snapshot of the working tree")
