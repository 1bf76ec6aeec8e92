"""`keygen`, `sign`, `verify`, `compile --sign` and `serve --trust` as a user runs them: real
subprocesses, a real server, every refusal sent for real."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from tests.support.http_server import serving

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
SECRETS = {
    "QUICKSTART_IDP_SECRET": "quickstart-idp-secret-for-signing-tests-0123456789",
    "TOKENSMITH_SIGNING_KEY": "quickstart-signing-secret-for-signing-tests-012345",
}

pytestmark = pytest.mark.slow


def tokensmith(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "TOKENSMITH_TRUST"}
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        capture_output=True, text=True, timeout=60, env={**full_env, **(env or {})}, check=False,
    )


def keygen(directory: Path, name: str, algorithm: str = "EdDSA") -> tuple[Path, Path, str]:
    result = tokensmith("keygen", "--algorithm", algorithm, "--out", str(directory / name))
    assert result.returncode == 0, result.stderr
    return directory / f"{name}.key", directory / f"{name}.pub", result.stdout.strip()


def compiled(directory: Path, name: str = "bundle") -> Path:
    out = directory / name
    result = tokensmith("compile", str(QUICKSTART), "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    directory = tmp_path_factory.mktemp("keys")
    return {alg: keygen(directory, alg.lower(), alg) for alg in ("EdDSA", "ES256", "RS256")}


def test_keygen_writes_a_private_key_for_its_owner_and_a_public_key(tmp_path: Path) -> None:
    private, public, kid = keygen(tmp_path, "ci")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert len(kid) == 43 and "PRIVATE" not in kid
    before = private.read_bytes(), public.read_bytes()
    again = tokensmith("keygen", "--out", str(tmp_path / "ci"))
    assert again.returncode == 2 and "exists; not overwriting" in again.stderr
    assert (private.read_bytes(), public.read_bytes()) == before and again.stdout == ""


def test_sign_then_verify_each_algorithm(tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]) -> None:
    bundle = compiled(tmp_path)
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    for private, _, _ in keys.values():
        result = tokensmith("sign", str(bundle), "--key", str(private))
        assert result.returncode == 0, result.stderr
        assert "PRIVATE KEY" not in result.stdout + result.stderr
    after = {p.name: p.read_bytes() for p in bundle.iterdir()}
    assert {n: after[n] for n in before} == before  # nothing but signatures.json changed
    assert len(json.loads(after["signatures.json"])["signatures"]) == 3
    trust = [arg for _, public, _ in keys.values() for arg in ("--trust", str(public))]
    result = tokensmith("verify", str(bundle), *trust, "--require-signatures", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for index, (alg, (_, _, kid)) in enumerate(keys.items(), start=1):
        assert lines[index - 1] == f"signature {index}: key {kid} {alg}: valid: no expiry"


def test_sign_takes_the_key_from_the_environment(tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]) -> None:
    private, public, kid = keys["ES256"]
    bundle = compiled(tmp_path)
    result = tokensmith("sign", str(bundle), "--key", "env:BUNDLE_KEY",
                        env={"BUNDLE_KEY": private.read_text()})
    assert result.returncode == 0, result.stderr
    assert kid in result.stderr and "PRIVATE" not in result.stderr + result.stdout
    assert tokensmith("verify", str(bundle), "--trust", str(public)).returncode == 0
    missing = tokensmith("sign", str(bundle), "--key", "env:NOT_SET_ANYWHERE")
    assert missing.returncode == 1 and "NOT_SET_ANYWHERE is not set" in missing.stderr


def test_sign_refuses_a_public_key_and_an_hmac_secret_and_never_prints_them(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    bundle = compiled(tmp_path)
    _, public, _ = keys["EdDSA"]
    secret = "hmac-secret-that-must-never-be-printed-0123456789"
    (tmp_path / "hmac").write_text(secret)
    for key, why in ((str(public), "a public key"), (str(tmp_path / "hmac"), "HMAC secret cannot sign")):
        result = tokensmith("sign", str(bundle), "--key", key)
        assert result.returncode == 1 and why in result.stderr
        assert secret not in result.stderr and public.read_text().splitlines()[1] not in result.stderr
    weak = tmp_path / "weak.key"
    weak.write_text(_rsa_1024_pem())
    result = tokensmith("sign", str(bundle), "--key", str(weak))
    assert result.returncode == 1 and "RSA keys must have 2048 to 8192 bits" in result.stderr
    assert not (bundle / "signatures.json").exists()


def _rsa_1024_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_compile_sign_is_byte_reproducible_but_for_signatures(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    private, public, _ = keys["EdDSA"]
    outs = []
    for name in ("one", "two"):
        result = tokensmith("compile", str(QUICKSTART), "-o", str(tmp_path / name), "--sign", str(private))
        assert result.returncode == 0, result.stderr
        outs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert sorted(outs[0]) == ["config.json", "manifest.json", "mappings.py", "signatures.json"]
    assert {n: d for n, d in outs[0].items() if n != "signatures.json"} == {
        n: d for n, d in outs[1].items() if n != "signatures.json"
    }
    assert tokensmith("verify", str(tmp_path / "one"), "--trust", str(public)).returncode == 0


def test_verify_refuses_and_says_why(tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]) -> None:
    ed_private, ed_public, ed_kid = keys["EdDSA"]
    _, es_public, _ = keys["ES256"]
    bundle = compiled(tmp_path)
    unsigned = tokensmith("verify", str(bundle), "--trust", str(ed_public))
    assert unsigned.returncode == 1
    assert "refused: the bundle is not signed (no signatures.json)" in unsigned.stderr
    for _ in range(2):
        assert tokensmith("sign", str(bundle), "--key", str(ed_private)).returncode == 0
    twice = tokensmith("verify", str(bundle), "--trust", str(ed_public), "--trust", str(es_public),
                       "--require-signatures", "2")
    assert twice.returncode == 1
    assert "2 distinct trusted signers needed, 1 found" in twice.stderr
    untrusted = tokensmith("verify", str(bundle), "--trust", str(es_public))
    assert untrusted.returncode == 1
    assert f"signature 1: key {ed_kid} EdDSA: refused: signed by a key that is not trusted" in untrusted.stdout
    missing = tokensmith("verify", str(bundle), "--trust", str(tmp_path / "nope.pub"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_verify_refuses_an_expired_signature(tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]) -> None:
    ed_private, ed_public, _ = keys["EdDSA"]
    bundle = compiled(tmp_path)
    assert tokensmith("sign", str(bundle), "--key", str(ed_private), "--valid-for", "1s").returncode == 0
    time.sleep(1.2)
    result = tokensmith("verify", str(bundle), "--trust", str(ed_public))
    assert result.returncode == 1 and ": refused: expired at " in result.stdout
    soon = compiled(tmp_path, "soon")
    assert tokensmith("sign", str(soon), "--key", str(ed_private), "--valid-for", "2d").returncode == 0
    result = tokensmith("verify", str(soon), "--trust", str(ed_public))
    assert result.returncode == 0 and "warning: the signature of key" in result.stderr


def test_verify_reads_trust_from_a_directory_jwk_and_jwk_set(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    private, public, kid = keys["RS256"]
    bundle = compiled(tmp_path)
    assert tokensmith("sign", str(bundle), "--key", str(private)).returncode == 0
    from cryptography.hazmat.primitives import serialization

    from tokensmith.runtime.bundle_keys import public_jwk

    jwk = public_jwk(serialization.load_pem_public_key(public.read_bytes()))  # type: ignore[arg-type]
    (tmp_path / "k.jwk").write_text(json.dumps(jwk))
    (tmp_path / "set.json").write_text(json.dumps({"keys": [jwk]}))
    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    (trust_dir / "release.pub").write_bytes(public.read_bytes())
    for path in ("k.jwk", "set.json", "trust"):
        result = tokensmith("verify", str(bundle), "--trust", str(tmp_path / path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"signed by {kid}" in result.stdout


# ---- serve ---------------------------------------------------------------------------------


def test_serve_with_trust_refuses_an_unsigned_bundle_with_the_reason(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    _, public, _ = keys["EdDSA"]
    bundle = compiled(tmp_path)
    for args, env in (
        (("--trust", str(public)), SECRETS),
        ((), {**SECRETS, "TOKENSMITH_TRUST": str(public)}),
    ):
        result = tokensmith("serve", str(bundle), "--port", "0", *args, env=env)
        assert result.returncode == 1
        assert "the bundle's signatures are refused" in result.stderr
        assert "the bundle is not signed (no signatures.json)" in result.stderr


def test_serve_with_unreadable_trust_refuses_to_start(tmp_path: Path) -> None:
    bundle = compiled(tmp_path)
    result = tokensmith("serve", str(bundle), "--port", "0",
                        env={**SECRETS, "TOKENSMITH_TRUST": str(tmp_path / "missing")})
    assert result.returncode == 1 and "cannot start: trust" in result.stderr


def test_serve_refuses_a_tampered_signed_bundle(tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]) -> None:
    private, public, _ = keys["EdDSA"]
    bundle = compiled(tmp_path)
    other = compiled(tmp_path, "other")
    assert tokensmith("sign", str(other), "--key", str(private)).returncode == 0
    # a different bundle's valid signature moved over
    config = json.loads((bundle / "config.json").read_text())
    config["issuer"] = "https://evil.example/"
    _rewrite(bundle, "config.json", json.dumps(config).encode())
    (bundle / "signatures.json").write_bytes((other / "signatures.json").read_bytes())
    result = tokensmith("serve", str(bundle), "--trust", str(public), env=SECRETS)
    assert result.returncode == 1 and "signs another bundle" in result.stderr


def _rewrite(bundle: Path, name: str, data: bytes) -> None:
    import hashlib

    from tokensmith.runtime.bundle import revision_of

    (bundle / name).write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest["revision"] = revision_of({n: e["sha256"] for n, e in manifest["files"].items()})
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_serve_with_trust_serves_a_signed_bundle_and_names_its_signers(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    ed_private, ed_public, ed_kid = keys["EdDSA"]
    es_private, es_public, es_kid = keys["ES256"]
    bundle = compiled(tmp_path)
    for private in (ed_private, es_private):
        assert tokensmith("sign", str(bundle), "--key", str(private)).returncode == 0
    revision = json.loads((bundle / "manifest.json").read_text())["revision"]
    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    for public in (ed_public, es_public):
        (trust_dir / public.name).write_bytes(public.read_bytes())
    env = {**os.environ, **SECRETS, "TOKENSMITH_TRUST": str(trust_dir)}
    with serving(bundle, env, "--require-signatures", "2") as (url, log):
        ready = httpx.get(url + "/readyz").json()
        assert ready["revision"] == revision
        assert ready["signers"] == sorted([ed_kid, es_kid]) and ready["signed"] is True
        metrics = httpx.get(url + "/metrics").text
        signers = ",".join(sorted([ed_kid, es_kid]))
        assert f'tokensmith_bundle_info{{revision="{revision}",signed="true",signers="{signers}"}} 1.0' in metrics
    assert "warning" not in log.read_text()


def test_serve_without_trust_serves_an_unsigned_bundle_with_one_warning(tmp_path: Path) -> None:
    bundle = compiled(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "TOKENSMITH_TRUST"}
    with serving(bundle, {**env, **SECRETS}) as (url, log):
        ready = httpx.get(url + "/readyz").json()
        assert ready["signed"] is False and ready["signers"] == []
        assert 'signed="false",signers=""} 1.0' in httpx.get(url + "/metrics").text
    warnings = [line for line in log.read_text().splitlines() if "warning" in line]
    assert warnings == [
        "tokensmith serve: warning: serving an unsigned bundle (no --trust or TOKENSMITH_TRUST): "
        "anyone who can write the bundle can change who gets in"
    ]


def test_serve_refuses_an_expired_signature(tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]) -> None:
    private, public, _ = keys["EdDSA"]
    bundle = compiled(tmp_path)
    assert tokensmith("sign", str(bundle), "--key", str(private), "--valid-for", "1s").returncode == 0
    time.sleep(1.2)
    result = tokensmith("serve", str(bundle), "--trust", str(public), env=SECRETS)
    assert result.returncode == 1 and "refused: expired at" in result.stderr


def test_the_release_workflow_signs_with_the_ci_secret_and_verifies_before_rollout(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    """Run the example release workflow's steps, as written, in a checkout-like directory."""
    import shutil

    from ruamel.yaml import YAML

    workflow = YAML(typ="safe").load((REPO / "examples" / "ci" / "tokensmith-release.yml").read_text())
    build = {step.get("name"): step for step in workflow["jobs"]["build"]["steps"]}
    deploy = {step.get("name"): step for step in workflow["jobs"]["deploy"]["steps"]}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "${{ secrets.BUNDLE_SIGNING_KEY }}" in build["Compile and sign"]["env"].values()
    private, public, kid = keys["EdDSA"]
    shutil.copytree(QUICKSTART, tmp_path / workflow["env"]["CONFIG"])
    (tmp_path / workflow["env"]["TRUST"]).mkdir()
    shutil.copy(public, tmp_path / workflow["env"]["TRUST"] / "release.pub")
    env = {**{k: v for k, v in os.environ.items() if k != "TOKENSMITH_TRUST"},
           **{k: str(v) for k, v in workflow["env"].items()},
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(step: Mapping[str, str], extra: Mapping[str, str] | None = None) -> str:
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env={**env, **(extra or {})},
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    signed = run(build["Compile and sign"], {"BUNDLE_SIGNING_KEY": private.read_text()})
    assert "PRIVATE" not in signed and kid in signed
    assert f"signature 1: key {kid} EdDSA: valid: expires " in run(build["Verify what was signed"])
    run(deploy["Verify before rollout"])
    # a bundle changed between the jobs is stopped by the deploy job's verification
    _rewrite(tmp_path / "bundle", "mappings.py", b"# replaced\n" + (tmp_path / "bundle" / "mappings.py").read_bytes())
    done = subprocess.run(["bash", "-e", "-c", deploy["Verify before rollout"]["run"]], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "signs another bundle" in done.stdout


def test_serve_with_trust_and_workers_judges_the_bundle_in_every_worker(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    private, public, kid = keys["EdDSA"]
    bundle = compiled(tmp_path)
    assert tokensmith("sign", str(bundle), "--key", str(private)).returncode == 0
    env = {**{k: v for k, v in os.environ.items() if k != "TOKENSMITH_TRUST"}, **SECRETS}
    with serving(bundle, env, "--trust", str(public), "--workers", "2") as (url, _):
        answers = {tuple(httpx.get(url + "/readyz").json()["signers"]) for _ in range(20)}
    assert answers == {(kid,)}  # each worker loaded it with the parent's trust


def test_an_empty_trust_setting_or_a_lone_require_signatures_refuses_to_start(tmp_path: Path) -> None:
    bundle = compiled(tmp_path)
    empty = tokensmith("serve", str(bundle), "--port", "0", env={**SECRETS, "TOKENSMITH_TRUST": " , "})
    assert empty.returncode == 1 and "TOKENSMITH_TRUST is set but names no key" in empty.stderr
    lone = tokensmith("serve", str(bundle), "--port", "0", "--require-signatures", "2", env=SECRETS)
    assert lone.returncode == 1 and "--require-signatures needs --trust" in lone.stderr


def test_compile_sign_with_a_key_that_cannot_sign_writes_nothing(
    tmp_path: Path, keys: dict[str, tuple[Path, Path, str]]
) -> None:
    _, public, _ = keys["EdDSA"]
    out = tmp_path / "bundle"
    result = tokensmith("compile", str(QUICKSTART), "-o", str(out), "--sign", str(public))
    assert result.returncode == 1 and "a public key" in result.stderr
    assert not out.exists()
    lone = tokensmith("compile", str(QUICKSTART), "-o", str(out), "--valid-for", "90d")
    assert lone.returncode == 2 and not out.exists()


def _attacks(files: Mapping[str, bytes], ed: object, ed_pub: bytes) -> dict[str, tuple[bytes, str]]:
    """Each attack's signatures.json, and what `serve` must say about it."""
    import base64
    import hashlib
    import hmac

    from tests.runtime.test_bundle_signatures import (
        forged,
        good_payload,
        kid_of,
        signature,
        signed_by_hand,
    )

    kid = kid_of(ed)
    good = signature(files, ed, now=int(time.time()))
    head, body, sig = good.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[0] ^= 0x01
    payload = {**good_payload(files), "iat": int(time.time())}
    confused = forged({"alg": "HS256", "kid": kid}, payload, b"")[:-1]
    mac = hmac.digest(ed_pub, confused.encode(), hashlib.sha256)

    def one(jws: str) -> bytes:
        return json.dumps({"signatures": [jws]}).encode()

    duplicate = f'{{"alg":"EdDSA","kid":"x","kid":"{kid}"}}'
    return {
        "flipped byte": (one(f"{head}.{body}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"),
                         "the signature does not verify"),
        "alg none": (one(forged({"alg": "none", "kid": kid}, payload, b"")), "alg none"),
        "HS256 keyed with the public key": (one(f"{confused}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"),
                                            "algorithm HS256 cannot sign bundles"),
        "alg/key type mismatch": (one(signed_by_hand(ed, {"alg": "ES256", "kid": kid}, payload)),
                                  "does not fit the trusted OKP key"),
        "crit": (one(signed_by_hand(ed, {"alg": "EdDSA", "kid": kid, "crit": ["x"]}, payload)), "crit header"),
        "jwk in header": (one(signed_by_hand(ed, {"alg": "EdDSA", "kid": kid, "jku": "https://e.example"}, payload)),
                          "header carries a key (jku)"),
        "padded base64url": (one(good + "=="), "not canonical base64url"),
        "duplicate member": (one(signed_by_hand(ed, duplicate, payload)), "duplicate member"),
        "10 MB signatures.json": (json.dumps({"signatures": [good], "x": "y" * 10_000_000}).encode(),
                                  "over the limit"),
        "10,000 signatures": (json.dumps({"signatures": [good] * 10_000}).encode(), "over the limit"),
    }


def test_serve_with_trust_refuses_each_attack_on_the_signatures(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed = ed25519.Ed25519PrivateKey.generate()
    ed_pub = ed.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "trusted.pub").write_bytes(ed_pub)
    bundle = compiled(tmp_path)
    files = {p.name: p.read_bytes() for p in bundle.iterdir()}
    for name, (data, reason) in _attacks(files, ed, ed_pub).items():
        (bundle / "signatures.json").write_bytes(data)
        result = tokensmith("serve", str(bundle), "--port", "0", "--trust", str(tmp_path / "trusted.pub"),
                            env=SECRETS)
        assert result.returncode == 1, name
        assert reason in result.stderr, (name, result.stderr)
