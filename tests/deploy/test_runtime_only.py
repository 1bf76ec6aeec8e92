"""The runtime-only install (deploy/tokensmith-runtime): installed alone into a fresh virtualenv
it has none of the build side, serves a bundle compiled by the full install, and its build
verbs stop with one line that says what is missing and how to get it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests.support.http_server import free_port

from ._support import (
    BUILD_SIDE_DISTRIBUTIONS,
    BUILD_SIDE_MODULES,
    BUILD_VERBS,
    QUICKSTART,
    ROOT,
    exchange_quickstart,
    quickstart_secrets,
    wait_ready,
)

RUNTIME_DIST = ROOT / "deploy" / "tokensmith-runtime"


def _split(requirement: str) -> tuple[str, str, str]:
    """(name, extras, version specifier) of a requirement such as `uvicorn[standard]>=0.30`."""
    match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^]]*\])?\s*(.*)", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(2) or "", match.group(3)


def test_runtime_distribution_depends_on_the_full_one_minus_the_build_side() -> None:
    full = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = tomllib.loads((RUNTIME_DIST / "pyproject.toml").read_text(encoding="utf-8"))
    build_side = {name.lower() for name in BUILD_SIDE_DISTRIBUTIONS}
    wanted = {n: v for n, _, v in map(_split, full["dependencies"]) if n not in build_side}
    assert {n for n, _, _ in map(_split, full["dependencies"])} >= build_side
    got = {n: (extras, v) for n, extras, v in map(_split, runtime["project"]["dependencies"])}
    # uvicorn without its `standard` extra (which brings PyYAML), plus the two parts of that
    # extra the server runs on
    assert _split(next(r for r in full["dependencies"] if r.startswith("uvicorn")))[1] == \
        "[standard]"
    assert set(got) == set(wanted) | {"uvloop", "httptools"}
    assert got["uvicorn"] == ("", wanted["uvicorn"])
    assert {n: v for n, (_, v) in got.items() if n in wanted} == wanted
    assert runtime["project"]["scripts"] == full["scripts"]
    assert runtime["project"]["requires-python"] == full["requires-python"]
    # the package is the repository's own, through a relative link
    link = RUNTIME_DIST / "tokensmith"
    assert link.is_symlink() and str(link.readlink()) == "../../tokensmith"


@pytest.fixture(scope="session")
def runtime_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tokensmith-runtime wheel, built once per session from the working tree's files. The
    build runs in a copy of deploy/tokensmith-runtime (its pyproject.toml and a link to the
    package), so that no `build/` left in the checkout by an earlier build can add stale files."""
    source = tmp_path_factory.mktemp("runtime-source")
    shutil.copy(RUNTIME_DIST / "pyproject.toml", source)
    (source / "tokensmith").symlink_to(ROOT / "tokensmith", target_is_directory=True)
    out = tmp_path_factory.mktemp("runtime-wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = out.glob("tokensmith_runtime-*.whl")
    return wheel


@pytest.fixture(scope="session")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory, runtime_wheel: Path) -> Path:
    """A fresh virtualenv with the runtime wheel installed and its dependencies from the index."""
    home = tmp_path_factory.mktemp("runtime-venv") / "venv"
    venv.create(home, with_pip=True)
    done = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", str(runtime_wheel)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.mark.slow
def test_wheel_holds_the_cli_and_the_runtime_but_no_build_layer(runtime_wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(runtime_wheel).namelist()
    assert "tokensmith/runtime/exchange.py" in names
    assert "tokensmith/runtime/openapi.json" in names  # GET /openapi.json serves it
    assert "tokensmith/commands/serve.py" in names and "tokensmith/cli.py" in names
    assert not [n for n in names if n.startswith(("tokensmith/schema/", "tokensmith/compiler/"))]
    import tokensmith

    assert runtime_wheel.name.startswith(f"tokensmith_runtime-{tokensmith.__version__}-")


@pytest.mark.slow
def test_runtime_venv_has_none_of_the_build_side(runtime_venv: Path, tmp_path: Path) -> None:
    python = str(runtime_venv / "bin" / "python")
    # run outside the checkout: `python -c` would import its `tokensmith` folder from the cwd
    for dist in BUILD_SIDE_DISTRIBUTIONS:
        shown = subprocess.run([python, "-m", "pip", "show", dist], capture_output=True,
                               text=True, timeout=60, check=False, cwd=tmp_path)
        assert shown.returncode != 0, f"{dist} is installed:\n{shown.stdout}"
    probe = (f"import importlib, json\nfound = {{}}\nfor name in {BUILD_SIDE_MODULES!r}:\n"
             "    try:\n        importlib.import_module(name); found[name] = True\n"
             "    except ImportError:\n        found[name] = False\nprint(json.dumps(found))")
    found = json.loads(subprocess.run([python, "-c", probe], capture_output=True, text=True,
                                      timeout=60, check=True, cwd=tmp_path).stdout)
    assert found == dict.fromkeys(BUILD_SIDE_MODULES, False)
    # while the runtime itself is there, installed in the virtualenv
    where = subprocess.run(
        [python, "-c", "import tokensmith.runtime.startup, uvloop, httptools; "
                       "print(tokensmith.runtime.startup.__file__)"],
        capture_output=True, text=True, check=True, timeout=60, cwd=tmp_path,
    ).stdout
    assert where.startswith(str(runtime_venv)), where


@pytest.mark.slow
def test_build_verbs_say_what_is_missing_and_how_to_get_it(runtime_venv: Path,
                                                           tmp_path: Path) -> None:
    for name in ("c.json", "i.json", "t.json"):
        (tmp_path / name).write_text("{}")
    cli = str(runtime_venv / "bin" / "tokensmith")
    for verb, args in BUILD_VERBS.items():
        argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
        done = subprocess.run([cli, *argv], capture_output=True, text=True, timeout=60,
                              check=False, cwd=tmp_path)
        assert done.returncode == 2, (verb, done.stdout, done.stderr)
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1, (verb, done.stderr)
        line = lines[0]
        assert line.startswith(f"tokensmith {verb}: this install has only the runtime")
        assert "tokensmith.compiler" in line and "pydantic" in line and "jinja2" in line
        assert "install the full `tokensmith` distribution" in line
    assert not (tmp_path / "bundle").exists()  # compile wrote nothing
    # the runtime's own verbs work there
    keygen = subprocess.run([cli, "vault", "keygen"], capture_output=True, text=True,
                            timeout=60, check=False, cwd=tmp_path)
    assert keygen.returncode == 0 and keygen.stdout.strip(), keygen.stderr


@pytest.mark.slow
def test_runtime_venv_serves_a_bundle_compiled_by_the_full_install(
    runtime_venv: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    subprocess.run([sys.executable, "-m", "tokensmith", "compile", str(QUICKSTART), "-o",
                    str(bundle)], check=True, capture_output=True, timeout=60)
    env = {"PATH": "/usr/bin:/bin", **quickstart_secrets()}  # nothing of this interpreter's
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(runtime_venv / "bin" / "tokensmith"), "serve", str(bundle), "--port", str(port),
             "--drain-seconds", "0"],  # stopped by SIGTERM below: no need to drain
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, lambda: server.poll() is None, log.read_text)
        exchange_quickstart(url, env)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, log.read_text()  # a graceful stop on SIGTERM
    assert "Traceback" not in log.read_text()
