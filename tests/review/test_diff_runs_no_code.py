"""`tokensmith diff` runs no code from either side, whatever a pull request puts there.

The attack: replace the config directory with a hand-made "bundle" (manifest hashes
recomputed) whose `mappings.py` writes a file and raises. A diff of the base against it, with
or without `--bundle`, must never execute that file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tokensmith.cli import main
from tokensmith.runtime.bundle import MANIFEST, revision_of

from .test_diff import BASE


def hostile_bundle(directory: Path, marker: Path, base: Path) -> None:
    """A real bundle of BASE whose `mappings.py` is swapped for a payload, hashes recomputed."""
    assert main(["compile", str(base), "-o", str(directory)]) == 0
    payload = (f"open({str(marker)!r}, 'w').write('ran')\n"
               "raise SystemExit('mappings.py of the other side was executed')\n")
    (directory / "mappings.py").write_text(payload)
    manifest = json.loads((directory / MANIFEST).read_text())
    hashes = {}
    for name in ("config.json", "mappings.py"):
        data = (directory / name).read_bytes()
        hashes[name] = hashlib.sha256(data).hexdigest()
        manifest["files"][name] = {"sha256": hashes[name], "size": len(data)}
    manifest["revision"] = revision_of(hashes)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def sides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    monkeypatch.setenv("K1", "k1-secret-for-the-diff-tests-0123456789")
    monkeypatch.setenv("K2", "k2-secret-for-the-diff-tests-0123456789")
    base = tmp_path / "base.yaml"
    base.write_text(BASE)
    marker = tmp_path / "executed"
    hostile = tmp_path / "pr-config"
    hostile_bundle(hostile, marker, base)
    return base, hostile, marker


def test_a_bundle_where_a_config_is_expected_is_not_run(
    sides: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, hostile, marker = sides
    code = main(["diff", str(base), str(hostile), "--format", "markdown"])
    assert code == 1  # read as a config: it holds no YAML, so it does not pass check
    assert not marker.exists()
    assert "pass --bundle" in capsys.readouterr().err


def test_a_bundle_side_is_read_through_config_json_only(
    sides: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, hostile, marker = sides
    assert main(["diff", "--bundle", "new", str(base), str(hostile), "--now", "1767225600"]) == 0
    assert not marker.exists()
    out = capsys.readouterr().out
    assert "no change to the configuration" in out
    # the base's cases ran on the bundle side, through the mappings kept in config.json
    assert "is a bundle" in out


def test_a_mapping_in_config_json_is_data_not_code(
    sides: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, hostile, marker = sides
    config = json.loads((hostile / "config.json").read_text())
    config["token_providers"]["svc"]["mapping"] = {
        "x.$": f"__import__('os').system('touch {marker}')"}
    (hostile / "config.json").write_text(json.dumps(config))
    assert main(["diff", "--bundle", "new", str(base), str(hostile)]) == 2
    assert not marker.exists()
    assert "config.json" in capsys.readouterr().err
