"""The README's config and `check` error are real: running check on that YAML prints that error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_check_error_is_what_check_prints(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    yaml_text = re.search(r"```yaml\n(.+?)```", readme, re.S)
    console = re.search(r"```console\n\$ tokensmith check tokensmith.yaml\n(.+?)\$ echo", readme, re.S)
    assert yaml_text and console
    (tmp_path / "tokensmith.yaml").write_text(yaml_text.group(1), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "tokensmith", "check", "tokensmith.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 1
    assert run.stdout + run.stderr == console.group(1)
