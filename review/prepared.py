"""A config checked and compiled in memory, as `compile` + `serve` would: what the tools run on."""

from __future__ import annotations

from dataclasses import dataclass

from tokensmith.compiler.bundle import build_bundle
from tokensmith.compiler.check import CheckResult, check_path
from tokensmith.runtime.bundle import Bundle, load_bundle_files


@dataclass(frozen=True)
class Prepared:
    """A checked config and, when it passed, the bundle it compiles to (loaded in memory)."""

    check: CheckResult
    bundle: Bundle | None


def prepare(path: str, *, version: str) -> Prepared:
    """Check the config at `path` and compile it in memory as tokensmith `version` would.

    Raises `ConfigReadError` when the path cannot be read.
    """
    result = check_path(path)
    if not result.ok:
        return Prepared(result, None)
    return Prepared(result, load_bundle_files(build_bundle(result, version=version), origin=path))
