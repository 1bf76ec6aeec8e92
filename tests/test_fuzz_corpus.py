"""Every input in `fuzz/corpus/<target>/` (seeds, and every input a fuzzer ever found a bug
with) is replayed through its target of `fuzz/targets.py`: only the parser's own refusal may
come out, never another exception (the atheris harness, `fuzz/run_atheris.py`, finds new ones).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).parents[1] / "fuzz"


def targets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_targets", FUZZ / "targets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


TARGETS = targets().TARGETS
CASES = sorted(
    (target, path) for target in TARGETS for path in (FUZZ / "corpus" / target).iterdir()
)


def test_every_target_has_a_corpus() -> None:
    assert {target for target, _ in CASES} == set(TARGETS)


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{t}/{p.name}" for t, p in CASES])
def test_corpus_input_is_refused_or_accepted_never_crashes(target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())
