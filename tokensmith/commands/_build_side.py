"""Which verbs need the build side, and the one line that says so in a runtime-only install.

The `tokensmith-runtime` distribution (deploy/tokensmith-runtime, what container images
install) holds the same CLI without `tokensmith.schema`, `tokensmith.compiler` and their
libraries. Only `serve`, `vault`, `keygen`, `sign` and `verify` work there; every other verb stops before doing anything,
exit 2, naming what is missing and how to get it.
"""

from __future__ import annotations

import importlib.util

#: Verbs that use the runtime alone (a deploy step verifies with the runtime install).
RUNTIME_VERBS = frozenset({"serve", "vault", "keygen", "sign", "verify"})
#: What the build verbs import: the two build layers and the libraries only they use.
BUILD_MODULES = (
    "tokensmith.schema",
    "tokensmith.compiler",
    "tokensmith.review",
    "pydantic",
    "ruamel.yaml",
    "jinja2",
    "jsonpath_ng",
)


def missing_modules() -> list[str]:
    """The build-side modules that cannot be imported here (empty in a full install)."""
    return [name for name in BUILD_MODULES if not _importable(name)]


def refusal(verb: str) -> str | None:
    """The error line for `verb` when it needs a build side that is not installed, else None."""
    if verb in RUNTIME_VERBS:
        return None
    missing = missing_modules()
    if not missing:
        return None
    return (
        f"tokensmith {verb}: this install has only the runtime (serve, vault, keygen, sign, verify); "
        f"{verb} needs the build side, which is missing ({', '.join(missing)}): "
        "install the full `tokensmith` distribution instead (`pip install .` in a checkout)"
    )


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package (e.g. `ruamel`) is missing
        return False
