"""`action.yml` run as GitHub runs a composite action: each step's `run:` script with bash, in a
temporary git repository with a pull request's base and head commits.

The harness does what the runner does and no more: it substitutes the `${{ }}` expressions the
action uses (inputs with their defaults, `github.*`), evaluates each step's `if:`, runs the
script with `bash --noprofile --norc -eo pipefail`, and provides `RUNNER_TEMP`,
`GITHUB_STEP_SUMMARY`, `GITHUB_PATH` (whose lines go in front of `PATH` for later steps) and a
GitHub REST API, here a recording server on 127.0.0.1. An expression or condition it does not
know fails the test, so the action stays within what is tested here.

The install step installs tokensmith from a snapshot of this checkout into its own virtualenv,
with dependencies from PyPI: slow, done once for the module.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from .repo_snapshot import CONFIG, ROOT, commit_all, new_repository, snapshot

pytestmark = pytest.mark.slow

STEP_TIMEOUT_SECONDS = 600
REPOSITORY = "acme/app"
PR_NUMBER = "7"
TOKEN = "ghs_test-token-not-a-secret"

#: The head of a clean pull request: `orders` now also passes the email on.
CHANGED = CONFIG.replace("mapping: {sub.$: $.sub}}", "mapping: {sub.$: $.sub, email.$: $.email}}")
#: The head of a broken pull request: a misspelt field.
BROKEN = CONFIG.replace("jwks_url:", "jwks_uri:")


# --- the runner ---------------------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    returncode: int | None  # None: skipped by its `if:`
    stdout: str = ""
    stderr: str = ""


@dataclass
class Runner:
    """One runner machine: its temp directory (holding the installed tokensmith) and PATH."""

    action_path: Path
    temp: Path
    path_dirs: list[str] = field(default_factory=list)

    def environment(self, workspace: Path, api: str, files: Mapping[str, Path]) -> dict[str, str]:
        test_venv = str(Path(sys.executable).parent)
        inherited = [d for d in os.environ["PATH"].split(os.pathsep) if d != test_venv]
        return {
            "PATH": os.pathsep.join([*reversed(self.path_dirs), *inherited]),
            "HOME": os.environ.get("HOME", "/root"),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": api,
            "RUNNER_TEMP": str(self.temp),
            **{name: str(path) for name, path in files.items()},
        }


def steps() -> list[dict[str, Any]]:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    found: list[dict[str, Any]] = action["runs"]["steps"]
    for step in found:
        assert "uses" not in step, "every step must be a script this test can run"
        assert step["shell"] == "bash"
    return found


def inputs_with(given: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    declared: dict[str, Any] = action["inputs"]
    assert set(given) <= set(declared), "an input the action does not declare"
    return {
        name: given[name] if name in given else substitute(str(spec.get("default", "")), context)
        for name, spec in declared.items()
    }


_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def substitute(text: str, context: Mapping[str, str]) -> str:
    """`${{ a }}` and `${{ a || b }}` replaced from `context`; anything else fails the test."""

    def value(match: re.Match[str]) -> str:
        for name in (n.strip() for n in match.group(1).split("||")):
            assert name in context, f"an expression this harness does not know: {name}"
            if context[name]:
                return context[name]
        return ""

    return _EXPRESSION.sub(value, text)


def runs(condition: str | None, failed: bool) -> bool:
    if condition is None:
        return not failed  # success()
    assert condition.strip() in ("${{ !cancelled() }}", "${{ always() }}"), condition
    return True


def run_action(
    runner: Runner,
    workspace: Path,
    api: str,
    given: Mapping[str, str],
    event: Mapping[str, str],
    names: tuple[str, ...] | None = None,
) -> tuple[list[StepRun], Path]:
    """Run the steps (all, or those `names`) in `workspace`; the runs and the job summary."""
    job = runner.temp / f"job-{len(list(runner.temp.glob('job-*')))}"
    job.mkdir()
    files = {"GITHUB_STEP_SUMMARY": job / "summary.md", "GITHUB_PATH": job / "path",
             "GITHUB_OUTPUT": job / "output", "GITHUB_ENV": job / "env"}
    for path in files.values():
        path.touch()
    context = {
        "github.action_path": str(runner.action_path),
        "github.token": TOKEN,
        # outside a pull request these are empty
        "github.event.pull_request.base.sha": "",
        "github.event.pull_request.number": "",
        **event,
    }
    context.update({f"inputs.{k}": v for k, v in inputs_with(given, context).items()})
    results: list[StepRun] = []
    for step in steps():
        if names is not None and step["name"] not in names:
            continue
        failed = any(r.returncode not in (0, None) for r in results)
        if not runs(step.get("if"), failed):
            results.append(StepRun(step["name"], None))
            continue
        env = runner.environment(workspace, api, files)
        env.update({k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()})
        script = job / f"step-{len(results)}.sh"
        script.write_text(substitute(step["run"], context), encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace, env=env, capture_output=True, text=True,
            timeout=STEP_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
        results.append(StepRun(step["name"], done.returncode, done.stdout, done.stderr))
        added = files["GITHUB_PATH"].read_text(encoding="utf-8").split()
        runner.path_dirs = list(dict.fromkeys([*runner.path_dirs, *added]))
    return results, files["GITHUB_STEP_SUMMARY"]


def by_name(results: list[StepRun]) -> dict[str, StepRun]:
    return {r.name: r for r in results}


# --- a GitHub API that records what it is asked -------------------------------------------------


@dataclass
class FakeGitHub:
    url: str
    comments: list[dict[str, Any]]
    requests: list[tuple[str, str, dict[str, str], Any]]


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub("", [], [])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _record(self) -> Any:
            size = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(size)) if size else None
            state.requests.append((self.command, self.path, dict(self.headers), body))
            return body

        def do_GET(self) -> None:
            self._record()
            page = re.search(r"[?&]page=(\d+)", self.path)
            first = page is not None and page.group(1) == "1"
            self._answer(200, state.comments if first else [])

        def do_POST(self) -> None:
            self._answer(201, {"id": 99, **self._record()})

        def do_PATCH(self) -> None:
            self._answer(200, self._record())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """A runner on which the action's install step has run once."""
    root = tmp_path_factory.mktemp("runner")
    snapshot(root / "action")
    machine = Runner(root / "action", root / "temp")
    machine.temp.mkdir()
    workspace = root / "workspace"
    new_repository(workspace, {"README.md": "nothing yet\n"})
    (install,), _ = run_action(machine, workspace, "http://127.0.0.1:9", {}, {},
                               names=("Install tokensmith",))
    assert install.returncode == 0, install.stdout + install.stderr
    assert install.stdout.strip().endswith("tokensmith 0.1.0")
    assert machine.path_dirs == [str(machine.temp / "tokensmith-venv" / "bin")]
    return machine


def pull_request(path: Path, base: str, head: str) -> dict[str, str]:
    """A repository whose base commit holds `base` as its config and whose head holds `head`;
    the event of a pull request between them."""
    base_sha = new_repository(path, {"tokensmith.yaml": base})
    (path / "tokensmith.yaml").write_text(head, encoding="utf-8")
    commit_all(path, "the pull request")
    return {"github.event.pull_request.base.sha": base_sha,
            "github.event.pull_request.number": PR_NUMBER}


AFTER_INSTALL = ("Check", "Test", "Diff against the base", "Post the diff as a pull request comment")


# --- the tests -----------------------------------------------------------------------------------


def test_a_clean_pull_request_passes_and_its_diff_lands_in_the_summary(
    runner: Runner, tmp_path: Path, github: FakeGitHub
) -> None:
    event = pull_request(tmp_path / "repo", CONFIG, CHANGED)
    results, summary = run_action(runner, tmp_path / "repo", github.url,
                                  {"github-token": ""}, event, AFTER_INSTALL)
    step = by_name(results)
    assert step["Check"].returncode == 0 and step["Check"].stdout == ""
    assert step["Test"].returncode == 0 and "1 passed, 0 failed" in step["Test"].stdout
    assert step["Diff against the base"].returncode == 0, step["Diff against the base"].stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("<!-- tokensmith-diff -->\n## tokensmith diff\n")
    assert "`base/tokensmith.yaml` → `head/tokensmith.yaml`" in text
    assert "- **orders** changed" in text
    assert "| `mapping.email` | *absent* | `<- $.email` |" in text
    # no token: nothing posted, and the step says where the diff is
    comment = step["Post the diff as a pull request comment"]
    assert comment.returncode == 0
    assert comment.stdout == ("::notice title=tokensmith diff::the diff is in the job summary, "
                              "not in a comment: no token\n")
    assert github.requests == []
    assert (runner.temp / "tokensmith-diff.md").read_text(encoding="utf-8") == text


def test_a_broken_pull_request_gets_annotations_and_a_comment(
    runner: Runner, tmp_path: Path, github: FakeGitHub
) -> None:
    event = pull_request(tmp_path / "repo", CONFIG, BROKEN)
    results, summary = run_action(runner, tmp_path / "repo", github.url, {}, event, AFTER_INSTALL)
    step = by_name(results)
    check = step["Check"]
    assert check.returncode == 1
    assert check.stdout.startswith(
        "::error file=tokensmith.yaml,line=9,col=5,title=E200::identity_providers.login: "
        "unknown field 'jwks_uri' (did you mean 'jwks_url'?)"
    )
    assert step["Test"].returncode is None  # skipped after a failed check, as GitHub does
    text = summary.read_text(encoding="utf-8")
    assert text == ("<!-- tokensmith-diff -->\n"
                    "tokensmith diff failed (exit 1): see the Check step.\n")
    assert step["Post the diff as a pull request comment"].stdout == (
        "tokensmith diff: posted the pull request comment\n"
    )
    (listed, posted) = github.requests
    assert listed[:2] == ("GET", f"/repos/{REPOSITORY}/issues/{PR_NUMBER}/comments?per_page=100&page=1")
    method, path, headers, body = posted
    assert (method, path) == ("POST", f"/repos/{REPOSITORY}/issues/{PR_NUMBER}/comments")
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert body == {"body": text}


def test_the_comment_is_updated_not_duplicated_and_a_persons_is_left_alone(
    runner: Runner, tmp_path: Path, github: FakeGitHub
) -> None:
    github.comments = [
        {"id": 41, "user": {"type": "User"}, "body": "<!-- tokensmith-diff --> quoting the bot"},
        {"id": 42, "user": {"type": "Bot"}, "body": "<!-- tokensmith-diff -->\nan older diff"},
    ]
    event = pull_request(tmp_path / "repo", CONFIG, CHANGED)
    results, summary = run_action(runner, tmp_path / "repo", github.url, {}, event, AFTER_INSTALL)
    assert by_name(results)["Post the diff as a pull request comment"].stdout == (
        "tokensmith diff: updated the pull request comment\n"
    )
    method, path, _, body = github.requests[-1]
    assert (method, path) == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/42")
    assert body == {"body": summary.read_text(encoding="utf-8")}
    assert [r[0] for r in github.requests] == ["GET", "PATCH"]


def test_a_config_new_in_the_pull_request_and_a_base_ref_input(
    runner: Runner, tmp_path: Path, github: FakeGitHub
) -> None:
    repo = tmp_path / "repo"
    base = new_repository(repo, {"README.md": "before tokensmith\n"})
    (repo / "tokensmith.yaml").write_text(CONFIG, encoding="utf-8")
    commit_all(repo, "add tokensmith")
    # outside a pull request: the base comes from the input, and there is no comment to post
    results, summary = run_action(runner, repo, github.url, {"base-ref": base, "strict": "false"},
                                  {}, AFTER_INSTALL)
    step = by_name(results)
    assert [r.returncode for r in results] == [0, 0, 0, 0]
    assert summary.read_text(encoding="utf-8") == (
        "<!-- tokensmith-diff -->\n## tokensmith diff\n\n"
        "`tokensmith.yaml` is new: nothing to compare it with.\n"
    )
    assert step["Post the diff as a pull request comment"].stdout.endswith("not a pull request\n")
    assert github.requests == []
