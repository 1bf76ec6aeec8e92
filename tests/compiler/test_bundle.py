"""`tokensmith compile` and the bundle: reproducible bytes, refusal on errors, atomic replacement,
and a runtime loader that refuses any bundle whose files do not check out."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tokensmith.compiler.bundle import build_bundle
from tokensmith.compiler.check import check_path
from tokensmith.runtime.bundle import load_bundle
from tokensmith.runtime.errors import BundleError

SEED = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  sbk_main:
    algorithm: HS256
    secret: {env: TOKENSMITH_TEST_SIGNING_SECRET}
identity_providers:
  supabase:
    issuer: https://abc.supabase.co/auth/v1
    audience: authenticated
    secret: {file: /nonexistent/secret/never/read}
    algorithms: [HS256]
    require:
      $.email_verified: true
    mapping:
      sub.$: $.sub
      email.$: $.email
      role.$: $.role
token_providers:
  my-service:
    signing_key: sbk_main
    expires_in: 30m
    mapping:
      sub.$: $.sub
      email.$: $.email
      service: my-service
      special:
        role.$: $.role.id
"""

SPLIT_A = SEED.split("identity_providers:")[0]
SPLIT_B = "identity_providers:" + SEED.split("identity_providers:")[1].split("token_providers:")[0]
SPLIT_C = "token_providers:" + SEED.split("token_providers:")[1]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def _compile(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return _cli("compile", str(config), "-o", str(out))


def _files(bundle: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(bundle.iterdir())}


def test_compile_writes_a_bundle_that_the_runtime_loads(tmp_path: Path) -> None:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(SEED)
    run = _compile(config, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    bundle = load_bundle(str(tmp_path / "out"))
    assert run.stdout.strip() == f"revision {bundle.revision}"
    assert sorted(os.listdir(tmp_path / "out")) == ["config.json", "manifest.json", "mappings.py"]
    # the seed mapping of the issue, to the letter, through the generated code
    context = {"identity_provider": "supabase", "service": "my-service"}
    intermediate = {"sub": "my-user-id", "email": "my-email@statebacked.dev", "role": {"id": "my-role"}}
    assert bundle.tp_mappings["my-service"](intermediate, context) == {
        "sub": "my-user-id",
        "email": "my-email@statebacked.dev",
        "service": "my-service",
        "special": {"role": "my-role"},
    }
    assert bundle.idp_requirements["supabase"]({"email_verified": True}, context) is True
    assert bundle.idp_requirements["supabase"]({"email_verified": 1}, context) is False
    tp = bundle.config.token_providers["my-service"]
    assert (tp.expires_in, tp.audience, tp.issuer) == (1800, "my-service", "https://tokens.example.com/")


def test_same_input_gives_byte_identical_bundles_whatever_the_file_and_key_order(
    tmp_path: Path,
) -> None:
    one = tmp_path / "one.yaml"
    one.write_text(SEED)
    split = tmp_path / "split"
    split.mkdir()
    # the same config spread over three files, with the sections in another order
    (split / "c.yaml").write_text(SPLIT_A + SPLIT_B)
    (split / "a.yaml").write_text(SPLIT_C)
    assert _compile(one, tmp_path / "b1").returncode == 0
    assert _compile(one, tmp_path / "b2").returncode == 0
    assert _files(tmp_path / "b1") == _files(tmp_path / "b2")
    assert _compile(split, tmp_path / "b3").returncode == 0
    c1 = json.loads(_files(tmp_path / "b1")["config.json"])
    c3 = json.loads(_files(tmp_path / "b3")["config.json"])
    assert c1 == c3
    assert _files(tmp_path / "b1")["config.json"] == _files(tmp_path / "b3")["config.json"]
    reordered = tmp_path / "reordered.yaml"
    reordered.write_text(SPLIT_A + SPLIT_C + SPLIT_B)
    assert _compile(reordered, tmp_path / "b4").returncode == 0
    assert _files(tmp_path / "b4")["config.json"] == _files(tmp_path / "b1")["config.json"]


def test_compile_never_reads_secrets(tmp_path: Path) -> None:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(SEED)
    env = {k: v for k, v in os.environ.items() if "TOKENSMITH" not in k}
    run = subprocess.run(
        [sys.executable, "-m", "tokensmith", "compile", str(config), "-o", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "o" / "config.json").read_text())
    assert document["signing_keys"]["sbk_main"]["secret"] == {
        "env": "TOKENSMITH_TEST_SIGNING_SECRET", "encoding": "utf8",
    }
    assert document["identity_providers"]["supabase"]["secret"] == {
        "file": "/nonexistent/secret/never/read", "encoding": "utf8",
    }


def test_compile_refuses_to_write_when_check_finds_errors(tmp_path: Path) -> None:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(SEED.replace("signing_key: sbk_main", "signing_key: sbk_mian"))
    run = _compile(config, tmp_path / "out")
    assert run.returncode == 1
    assert "sbk_mian" in run.stderr and "tokensmith.yaml:" in run.stderr
    assert not (tmp_path / "out").exists()


def test_compile_replaces_an_existing_bundle_and_refuses_other_directories(
    tmp_path: Path,
) -> None:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(SEED)
    out = tmp_path / "out"
    assert _compile(config, out).returncode == 0
    first = load_bundle(str(out)).revision
    config.write_text(SEED.replace("30m", "45m"))
    assert _compile(config, out).returncode == 0
    second = load_bundle(str(out)).revision
    assert first != second
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tokensmith")] == []
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    run = _compile(config, precious)
    assert run.returncode == 2
    assert (precious / "notes.txt").read_text() == "keep me"


def test_compile_exit_2_when_the_config_cannot_be_read(tmp_path: Path) -> None:
    run = _compile(tmp_path / "missing.yaml", tmp_path / "out")
    assert run.returncode == 2


# --- the loader refuses bundles that do not check out --------------------------------------


@pytest.fixture()
def bundle_dir(tmp_path: Path) -> Path:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(SEED)
    result = check_path(str(config))
    out = tmp_path / "bundle"
    out.mkdir()
    for name, data in build_bundle(result).items():
        (out / name).write_bytes(data)
    return out


def test_loader_accepts_a_read_only_bundle_and_writes_nothing(bundle_dir: Path) -> None:
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in bundle_dir.iterdir()}
    for p in bundle_dir.iterdir():
        p.chmod(stat.S_IRUSR)
    bundle_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        load_bundle(str(bundle_dir))
        after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in bundle_dir.iterdir()}
    finally:
        bundle_dir.chmod(0o755)
    assert after == before


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("mappings.py", lambda b: b.replace(b"out = {}", b"out = {'admin': True}", 1), "mappings.py"),
        ("config.json", lambda b: b.replace(b"1800", b"9999", 1), "config.json"),
        ("config.json", lambda b: b[: len(b) // 2], "config.json"),
        ("mappings.py", lambda b: b"", "mappings.py"),
        ("manifest.json", lambda b: b.replace(b"tokensmith-bundle/1", b"opa-bundle/1"), "format"),
        ("manifest.json", lambda b: b"not json", "manifest.json"),
    ],
)
def test_loader_refuses_tampered_truncated_or_foreign_bundles(
    bundle_dir: Path, name: str, change: object, message: str
) -> None:
    path = bundle_dir / name
    path.chmod(0o644)
    original = path.read_bytes()
    changed = change(original)  # type: ignore[operator]
    assert changed != original
    path.write_bytes(changed)
    with pytest.raises(BundleError, match=message):
        load_bundle(str(bundle_dir))


def test_loader_refuses_a_consistent_but_altered_manifest(bundle_dir: Path) -> None:
    # An attacker who edits mappings.py and updates its hash still breaks the revision.
    import hashlib

    mappings = bundle_dir / "mappings.py"
    mappings.chmod(0o644)
    data = mappings.read_bytes() + b"\n# altered\n"
    mappings.write_bytes(data)
    manifest_path = bundle_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["mappings.py"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest_path.chmod(0o644)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="revision"):
        load_bundle(str(bundle_dir))


def test_loader_refuses_extra_files_missing_dirs_and_oversized_files(
    bundle_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(BundleError, match="not a bundle directory"):
        load_bundle(str(tmp_path / "nope"))
    extra = tmp_path / "extra"
    shutil.copytree(bundle_dir, extra)
    (extra / "evil.py").write_text("print('hi')")
    with pytest.raises(BundleError, match=r"evil\.py"):
        load_bundle(str(extra))
    big = tmp_path / "big"
    shutil.copytree(bundle_dir, big)
    (big / "manifest.json").chmod(0o644)
    (big / "manifest.json").write_bytes(b" " * (64 * 1024 + 1))
    with pytest.raises(BundleError, match="limit"):
        load_bundle(str(big))


def _consistent(bundle: Path, config_json: bytes) -> dict[str, bytes]:
    """The bundle with `config_json` in place and a manifest that matches it (hashes, revision)."""
    from tokensmith.compiler.bundle_files import with_manifest

    return with_manifest({"config.json": config_json, "mappings.py": _files(bundle)["mappings.py"]})


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["signing_keys"]["sbk_main"]["secret"].update(encoding=[]),
        lambda c: c["identity_providers"]["supabase"]["secret"].update(encoding={"a": 1}),
        lambda c: c["identity_providers"]["supabase"].update(algorithms="HS256"),
        lambda c: c["token_providers"]["my-service"].update(expires_in=True),
        lambda c: c["token_providers"]["my-service"].update(expires_in=0),
        lambda c: c["identity_providers"]["supabase"].update(leeway=-60),
        # references across items that the compiler guarantees
        lambda c: c["identity_providers"]["supabase"].update(jwks={"keys": []}),
        lambda c: c["identity_providers"]["supabase"].update(discovery=True),
        lambda c: c["token_providers"]["my-service"].update(identity_providers=["supabse"]),
    ],
)
def test_loader_refuses_odd_config_values_with_a_bundle_error(
    bundle_dir: Path, change: object
) -> None:
    from tokensmith.runtime.bundle import load_bundle_files

    config = json.loads(_files(bundle_dir)["config.json"])
    change(config)  # type: ignore[operator]
    with pytest.raises(BundleError, match=r"config\.json"):
        load_bundle_files(_consistent(bundle_dir, json.dumps(config).encode()))


@pytest.mark.parametrize("name", ["config.json", "manifest.json"])
def test_loader_refuses_json_nested_deeper_than_the_stack(bundle_dir: Path, name: str) -> None:
    from tokensmith.runtime.bundle import load_bundle_files

    files = _consistent(bundle_dir, b"[" * 50_000 + b"]" * 50_000)
    if name == "manifest.json":
        files = {**_files(bundle_dir), "manifest.json": b"[" * 30_000 + b"]" * 30_000}
    with pytest.raises(BundleError, match=name.replace(".", r"\.")):
        load_bundle_files(files)
