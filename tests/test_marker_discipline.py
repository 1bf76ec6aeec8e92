"""`tests/conftest.py` fails a test that starts a server or a subprocess without `@pytest.mark.slow`.

Proved by running pytest on a small suite that breaks the rule in each way, with a copy of the
real conftest (in a subprocess: so this test is slow itself).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent / "conftest.py"

SUITE = '''
import socket
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def listening():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def test_plain():
    assert True


def test_subprocess_unmarked():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.slow
def test_subprocess_marked():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.slow
def test_server_fixture_marked(listening):
    assert listening.getsockname()[1] > 0


def test_server_fixture_shared_unmarked(listening):
    assert listening.getsockname()[1] > 0


def test_listening_in_the_test_unmarked():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
'''


@pytest.mark.slow
def test_unmarked_servers_and_subprocesses_fail_and_marked_ones_pass(tmp_path: Path) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n", encoding="utf-8")
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    outcomes = dict(
        (name, outcome)
        for outcome, name in re.findall(r"^(PASSED|FAILED|ERROR) test_suite\.py::(\w+)", done.stdout, re.M)
    )
    assert outcomes == {
        "test_plain": "PASSED",
        "test_subprocess_unmarked": "FAILED",
        "test_subprocess_marked": "PASSED",
        "test_server_fixture_marked": "PASSED",
        "test_server_fixture_shared_unmarked": "ERROR",
        "test_listening_in_the_test_unmarked": "FAILED",
    }, done.stdout + done.stderr
    assert "test_subprocess_unmarked starts a subprocess" in done.stdout
    assert "but is not marked @pytest.mark.slow" in done.stdout
    assert "fixture 'listening'" in done.stdout
