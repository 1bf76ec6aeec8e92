"""Deterministic bundle files and their atomic replacement on disk.

The manifest's hashes and revision follow `runtime.bundle` (the reader), so that writer and
reader cannot disagree: the revision function is imported from the runtime, which the compiler
may use (the reverse never happens).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from tokensmith.runtime.bundle import BUNDLE_FORMAT, CONTENT_FILES, MANIFEST, revision_of
from tokensmith.schema.errors import BuildError


class BundleWriteError(BuildError):
    """The output directory cannot be written or replaced."""


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, 2-space indent, UTF-8 (non-ASCII kept), and a final newline."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def with_manifest(content: Mapping[str, bytes], *, version: str) -> dict[str, bytes]:
    """The content files plus a `manifest.json` that lists their sizes, hashes and the revision,
    and names tokensmith `version` as the compiler."""
    if sorted(content) != sorted(CONTENT_FILES):
        raise ValueError(f"a bundle holds exactly {', '.join(CONTENT_FILES)}")
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in content.items()}
    manifest = {
        "format": BUNDLE_FORMAT,
        "compiler": f"tokensmith {version}",
        "revision": revision_of(hashes),
        "files": {name: {"sha256": hashes[name], "size": len(content[name])} for name in content},
    }
    return {**content, MANIFEST: canonical_json(manifest)}


def write_bundle(files: Mapping[str, bytes], out_dir: str) -> None:
    """Write the bundle to `out_dir`, replacing an existing one atomically.

    The files go to a fresh sibling directory first; only once every file is written and synced
    is it renamed into place, so a reader sees the old bundle or the new one, never a mix.
    """
    target = os.path.abspath(out_dir)
    parent = os.path.dirname(target)
    if os.path.exists(target) and not os.path.isdir(target):
        raise BundleWriteError(f"{out_dir}: exists and is not a directory")
    if os.path.isdir(target) and os.listdir(target) and not os.path.exists(
        os.path.join(target, MANIFEST)
    ):
        raise BundleWriteError(f"{out_dir}: exists and is not a bundle; refusing to replace it")
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".tokensmith-bundle-", dir=parent)
    except OSError as exc:
        raise BundleWriteError(f"{out_dir}: cannot write ({exc.strerror})") from None
    try:
        for name in sorted(files):
            _write_file(os.path.join(staging, name), files[name])
        os.chmod(staging, 0o755)
        _swap_into_place(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleWriteError(f"{out_dir}: cannot write ({exc.strerror})") from None


def _write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o444)


def _swap_into_place(staging: str, target: str) -> None:
    if not os.path.exists(target):
        os.rename(staging, target)
        return
    # rename(2) cannot replace a non-empty directory: move the old one aside first, then drop it.
    old = tempfile.mkdtemp(prefix=".tokensmith-old-", dir=os.path.dirname(target))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
