"""Load a script of `bench/` as a module, for the tests that run a short version of it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """`bench/<name>.py` as the module `name`, loaded once per test session.

    The script may import its siblings (`_support`, `api_fuzz`, ...), so `bench/` is on the path
    while it loads; it is registered in `sys.modules` first because dataclasses look their
    module up there.
    """
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(BENCH / f"{name}.py"):
        return module
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module
