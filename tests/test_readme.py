"""The README's console blocks are real: the commands print what it shows.

The check error is what `check` prints for the README's config; once that is fixed, `check` is
silent and `compile` prints the revision shown; the walkthrough without Auth0 runs as written
(secrets made, quickstart checked, compiled, served, a token signed and exchanged with curl),
each command's output compared with the README's. A README that falls behind the code (a
revision that changed, say) fails here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PORT_IN_README = "8080"
#: A command of each block run here, which names it.
FIXED = "tokensmith compile tokensmith.yaml -o bundle/"
AUTH0_SERVE = "tokensmith serve bundle/ --port 8080"
WALKTHROUGH = "tokensmith compile examples/quickstart -o bundle/"


@pytest.mark.slow
def test_readme_check_error_is_what_check_prints(tmp_path: Path) -> None:
    yaml_text = re.search(r"```yaml\n(.+?)```", README, re.S)
    console = re.search(r"```console\n\$ tokensmith check tokensmith.yaml\n(.+?)\$ echo", README, re.S)
    assert yaml_text and console
    (tmp_path / "tokensmith.yaml").write_text(yaml_text.group(1), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "tokensmith", "check", "tokensmith.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 1
    assert run.stdout + run.stderr == console.group(1)


# --- console blocks run as written ----------------------------------------------------------------

Step = tuple[str, str]  # (command, the output the README shows for it)


def console_blocks() -> list[list[Step]]:
    """Every ```console block of the README as its commands and their outputs."""
    blocks = []
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        steps: list[Step] = []
        lines = block.splitlines()
        while lines:
            line = lines.pop(0)
            assert line.startswith("$ "), f"output before any command: {line!r}"
            command = line[2:]
            while command.endswith("\\"):
                command += "\n" + lines.pop(0)
            output = []
            while lines and not lines[0].startswith("$ "):
                output.append(lines.pop(0) + "\n")
            steps.append((command, "".join(output)))
        blocks.append(steps)
    return blocks


def block_with(command: str) -> list[Step]:
    found = [b for b in console_blocks() if command in dict(b)]
    assert len(found) == 1, f"the README has no single console block with {command!r}"
    return found[0]


def run_block(steps: list[Step], cwd: Path, port: int) -> list[tuple[int, str]]:
    """Run the commands in one bash, the README's port replaced by `port`; for each, its exit
    code and its output (standard output, then standard error, as `check`'s test compares).

    A command ending in `&` (the server) runs in the background; the next command waits for it
    to answer `/readyz`. The server is stopped by its PID whatever happens.
    """
    work = cwd / ".transcript"
    work.mkdir()
    script = [f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\""]
    for index, (command, _) in enumerate(steps):
        command = command.replace(PORT_IN_README, str(port))
        out, err, rc = (work / f"{index}.{name}" for name in ("out", "err", "rc"))
        if command.endswith("&"):
            script += [
                f"{command[:-1]} >{out} 2>{err} &",
                f"echo $! >{work / 'server.pid'}; echo 0 >{rc}",
                "for _ in $(seq 200); do",
                f"  curl -sf -o /dev/null http://127.0.0.1:{port}/readyz && break; sleep 0.05",
                "done",
            ]
        else:
            script += [f"{{ {command}\n}} >{out} 2>{err}", f"echo $? >{rc}"]
    (work / "run.sh").write_text("\n".join(script) + "\n", encoding="utf-8")
    try:
        subprocess.run(["bash", "--noprofile", "--norc", str(work / "run.sh")], cwd=cwd,
                       timeout=120, check=False)
    finally:
        _stop(work / "server.pid")
    return [
        (int((work / f"{i}.rc").read_text()),
         (work / f"{i}.out").read_text() + (work / f"{i}.err").read_text())
        for i in range(len(steps))
    ]


def _stop(pid_file: Path) -> None:
    if not pid_file.exists():
        return
    with contextlib.suppress(ProcessLookupError):  # `kill %1` in the README stopped it
        os.kill(int(pid_file.read_text()), signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def readme_config() -> str:
    found = re.search(r"```yaml\n(.+?)```", README, re.S)
    assert found
    return found.group(1)


@pytest.mark.slow
def test_the_fixed_config_checks_clean_and_compiles_to_the_revision_shown(tmp_path: Path) -> None:
    fixed = readme_config().replace("jwks_uri:", "jwks_url:")  # the fix the hint names
    (tmp_path / "tokensmith.yaml").write_text(fixed, encoding="utf-8")
    steps = block_with(FIXED)
    assert [command for command, _ in steps] == [
        "tokensmith check tokensmith.yaml", "tokensmith compile tokensmith.yaml -o bundle/"
    ]
    results = run_block(steps, tmp_path, free_port())
    assert results == [(0, steps[0][1]), (0, steps[1][1])]
    assert steps[0][1] == ""  # a clean check says nothing


@pytest.mark.slow
def test_the_walkthrough_without_auth0_runs_as_written(tmp_path: Path) -> None:
    assert shutil.which("curl"), "the walkthrough uses curl: install it"
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "examples" / "quickstart")
    steps = block_with(WALKTHROUGH)
    port = free_port()
    results = run_block(steps, tmp_path, port)
    for (command, shown), (code, printed) in zip(steps, results, strict=True):
        assert code == 0, f"{command}: exit {code}: {printed}"
        printed = printed.replace(f":{port}", f":{PORT_IN_README}")
        if command.startswith("curl"):
            _same_response(shown, printed)
        else:
            if command.endswith("&"):
                printed = _without_server_chatter(printed)
            assert _without_access_log(printed) == shown, command


def _without_access_log(printed: str) -> str:
    """The server's access log (one JSON line per request, on standard error) is flushed every
    half second and at shutdown, so whether a line shows before `kill %1` depends on timing; the
    README says so and leaves them out."""
    lines = printed.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith('{"time":'))


def _without_server_chatter(printed: str) -> str:
    """The background server's output without the lines of the graceful shutdown that
    `kill %1` starts (`tokensmith serve[PID]: SIGTERM: draining ...`), printed after the
    walkthrough's end."""
    return "".join(
        line for line in printed.splitlines(keepends=True)
        if not re.match(r"tokensmith serve\[\d+\]: ", line)
    )


def _same_response(shown: str, printed: str) -> None:
    """The README shortens the token and shows `expires_in` as computed at the second the
    subject token was signed; a second may pass before the exchange."""
    expected, got = json.loads(shown), json.loads(printed)
    prefix = expected.pop("access_token").removesuffix("...")
    assert got.pop("access_token").startswith(prefix)
    expires_in = expected.pop("expires_in")
    assert expires_in - 1 <= got.pop("expires_in") <= expires_in
    assert got == expected


def test_the_auth0_serve_line_names_the_revision_compiled_above() -> None:
    revision = dict(block_with(FIXED))[FIXED]
    shown = dict(block_with(AUTH0_SERVE))[AUTH0_SERVE]
    # the walkthrough's serve line is printed by the real server in the test above; for the
    # Auth0 bundle (whose keys this test cannot fetch) only the revision differs
    walkthrough = dict(block_with(WALKTHROUGH))
    theirs = walkthrough[WALKTHROUGH].split()[1]
    served = walkthrough["tokensmith serve bundle/ --port 8080 &"]
    assert served.replace(theirs[:12], revision.split()[1][:12]) == shown
    assert shown.endswith(f"tokensmith serve: bundle {revision.split()[1][:12]} on "
                          "http://127.0.0.1:8080 (1 worker)\n")
    # the README's bundle is unsigned and served without trust: the one warning line first
    assert shown.startswith("tokensmith serve: warning: serving an unsigned bundle")
    assert shown.count("\n") == 2
