"""The repository itself: the wheel holds only the `tokensmith` package, CI runs the README's tests."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The top-level layer folders, each installed as `tokensmith.<name>` through a relative link.
LAYERS = ("schema", "compiler", "runtime", "review")


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Test it", 1)[1]
    match = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert match, "README has no test command block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = _readme_test_command()
    assert f'TEST_COMMAND="{command}"' in ci
    assert 'eval "$TEST_COMMAND"' in ci
    assert "ruff check" in ci and "mypy --strict" in ci


def test_layer_links_are_relative_symlinks() -> None:
    for name in LAYERS:
        link = ROOT / "tokensmith" / name
        assert link.is_symlink()
        assert str(link.readlink()) == f"../{name}"


@pytest.mark.slow
def test_wheel_holds_only_the_tokensmith_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("tokensmith-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"tokensmith"}
    assert "tokensmith/runtime/bundle.py" in names
    assert "tokensmith/schema/location.py" in names
    assert "tokensmith/compiler/__init__.py" in names
    assert "tokensmith/review/explain.py" in names
    assert not any(n.startswith(tuple(f"{layer}/" for layer in (*LAYERS, "tests"))) for n in names)


def test_source_lines_are_split_once_per_file() -> None:
    # Printing thousands of findings of one large file must stay linear (it was quadratic).
    import time

    from tokensmith.schema.location import Location, SourceMap

    source = SourceMap(texts={"big.yaml": "\n".join(f"line {i}" for i in range(1, 200_001))})
    started = time.perf_counter()
    shown = [source.source_line(Location("big.yaml", i, 1)) for i in range(1, 20_001, 2)]
    assert shown[:2] == ["line 1", "line 3"]
    assert source.source_line(Location("big.yaml", 200_001, 1)) is None
    assert time.perf_counter() - started < 5  # re-splitting per finding took minutes
