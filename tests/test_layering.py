"""The layers import one way: CLI -> review -> compiler -> schema, review -> runtime, and the
runtime stands alone (docs/architecture.md draws it).

Each rule imports every module of a layer in a fresh interpreter and looks at what got loaded,
so an import hidden in a helper counts too. The compiler's direct imports of the runtime are
listed exactly, as docs/architecture.md lists them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = ("tokensmith.cli", "tokensmith.commands", "tokensmith.reporters")
#: What each layer must never load, itself or through what it imports.
FORBIDDEN = {
    "runtime": (
        "tokensmith.schema", "tokensmith.compiler", "tokensmith.review", *CLI,
        "pydantic", "ruamel", "jinja2",
    ),
    # the compiler writes bundles; it never runs an exchange or a server
    "compiler": (
        "tokensmith.review", *CLI, "tokensmith.runtime.exchange", "tokensmith.runtime.app",
        "starlette", "uvicorn", "httpx",
    ),
    "schema": ("tokensmith.compiler", "tokensmith.runtime", "tokensmith.review", *CLI),
    "review": CLI,
}  # fmt: skip
#: The runtime modules the compiler imports, each for one reason (docs/architecture.md).
COMPILER_USES_FROM_RUNTIME = {"bundle", "model", "mapping_api", "issuing", "jwk"}

PROBE = """
import json, pkgutil, importlib, sys
import tokensmith.{layer} as layer
for info in pkgutil.walk_packages(layer.__path__, "tokensmith.{layer}."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_by(layer: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(layer=layer)],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    loaded: list[str] = json.loads(out)
    return loaded


@pytest.mark.slow
@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_loads_nothing_from_above_it(layer: str) -> None:
    loaded = _loaded_by(layer)
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN[layer])]
    assert bad == []
    # the probe really imported the layer's modules
    assert any(m.startswith(f"tokensmith.{layer}.") for m in loaded)


def _absolute_imports(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    return {n for n in names if n == "tokensmith" or n.startswith("tokensmith.")}


def test_the_compiler_imports_the_schema_and_only_the_listed_runtime_modules() -> None:
    imported = _absolute_imports(ROOT / "compiler")
    runtime = {n.removeprefix("tokensmith.runtime.") for n in imported
               if n.startswith("tokensmith.runtime.")}  # fmt: skip
    others = {n for n in imported if not n.startswith(("tokensmith.runtime.", "tokensmith.schema."))}
    # not even `tokensmith` itself: the version is passed in by the CLI
    assert others == set()
    assert runtime == COMPILER_USES_FROM_RUNTIME


def test_the_architecture_doc_names_what_the_compiler_uses_from_the_runtime() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    decision = doc.split("**The compiler imports", 1)[1].split("\n- **", 1)[0]
    named = {name for name in COMPILER_USES_FROM_RUNTIME if f"`runtime/{name}.py`" in decision}
    assert named == COMPILER_USES_FROM_RUNTIME


#: What a runtime-only install (deploy/tokensmith-runtime) lacks.
BUILD_SIDE = (
    "tokensmith.schema", "tokensmith.compiler", "tokensmith.review",
    "pydantic", "ruamel", "jinja2", "jsonpath_ng", "yaml",
)  # fmt: skip

WITHOUT_BUILD_SIDE = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
from tokensmith.cli import build_parser
build_parser()
import tokensmith.commands.serve, tokensmith.commands.vault
print("ok")
"""


@pytest.mark.slow
def test_the_cli_starts_without_the_build_side() -> None:
    # A runtime-only install has the CLI and the runtime but none of the build side: building
    # the parser (every verb registers itself) must not import any of it at module level.
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_BUILD_SIDE.format(blocked=BUILD_SIDE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
