"""`diff` of two bundles shows their signatures: signers added, removed, expiry changed."""

from __future__ import annotations

import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.support.http_server import config, write_bundle
from tokensmith.commands._signing import sign_directory
from tokensmith.review.diff import diff_sides, load_side
from tokensmith.runtime.bundle_keys import BundleSigningKey, load_signing_key


def _key() -> BundleSigningKey:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return load_signing_key(pem, "test")


def test_signers_added_removed_and_expiry_changed(tmp_path: Path) -> None:
    ci, release, rotated = _key(), _key(), _key()
    old = write_bundle(tmp_path / "old", config({}, {}, {}))
    sign_directory(str(old), ci, 30 * 86400)
    sign_directory(str(old), release, None)
    new = tmp_path / "new"
    shutil.copytree(old / ".", new, ignore=shutil.ignore_patterns("signatures.json"))
    sign_directory(str(new), ci, 90 * 86400)
    sign_directory(str(new), rotated, None)
    diff = diff_sides(load_side(str(old), version="t", bundle=True), load_side(str(new), version="t", bundle=True))
    changes = {(i.name, i.kind): i for i in diff.items if i.section == "signatures"}
    assert set(changes) == {
        (ci.kid, "changed"),
        (release.kid, "removed"),
        (rotated.kid, "added"),
    }
    fields = {f.field for f in changes[(ci.kid, "changed")].fields}
    assert "expires" in fields
    assert [i for i in diff.items if i.section != "signatures"] == []


def test_an_unsigned_bundle_against_itself_shows_no_signature_change(tmp_path: Path) -> None:
    old = write_bundle(tmp_path / "old", config({}, {}, {}))
    diff = diff_sides(load_side(str(old), version="t", bundle=True), load_side(str(old), version="t", bundle=True))
    assert diff.items == ()
