"""The runtime stands alone: importing it pulls in neither the build side nor its libraries."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("tokensmith.schema", "tokensmith.compiler", "pydantic", "ruamel", "jinja2")

PROBE = """
import json, pkgutil, importlib, sys
import tokensmith.runtime as rt
for info in pkgutil.walk_packages(rt.__path__, "tokensmith.runtime."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_runtime_imports_no_build_side_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
    ).stdout
    loaded = json.loads(out)
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == []
    # the probe really imported the runtime modules
    assert "tokensmith.runtime.model" in loaded
