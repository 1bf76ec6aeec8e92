"""Bundle signatures judged in-process: every refusal sent for real, and the accepted cases.

Each attack builds the bad `signatures.json` (or the bad bundle) and loads it with trust, as
`verify` and `serve --trust` do; the verdict and its reason are what a user reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tokensmith.runtime.b64 import b64url_encode
from tokensmith.runtime.bundle import load_bundle, load_bundle_files, revision_of
from tokensmith.runtime.bundle_keys import (
    TrustError,
    generate_key,
    load_signing_key,
    load_trust,
    public_jwk,
    thumbprint,
)
from tokensmith.runtime.bundle_signatures import (
    MAX_SIGNATURES,
    SignatureError,
    SignatureReport,
    Trust,
    make_signature,
    with_signature,
)
from tokensmith.runtime.errors import BundleError
from tokensmith.runtime.signing import SigningKeyError

from ..support.http_server import bundle_files, config

NOW = 1_800_000_000


def _pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _pub(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


ED = ed25519.Ed25519PrivateKey.generate()
ES = ec.generate_private_key(ec.SECP256R1())
RS = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = ed25519.Ed25519PrivateKey.generate()


def kid_of(key: Any) -> str:
    return thumbprint(public_jwk(key.public_key()))


def trust_of(tmp_path: Path, *keys: Any, required: int = 1) -> Trust:
    paths = []
    for index, key in enumerate(keys):
        path = tmp_path / f"trusted-{index}.pub"
        path.write_bytes(_pub(key))
        paths.append(str(path))
    return Trust(load_trust(paths), required)


def unsigned() -> dict[str, bytes]:
    return bundle_files(config({}, {}, {}))


def revision(files: Mapping[str, bytes]) -> str:
    return str(json.loads(files["manifest.json"])["revision"])


def signature(files: Mapping[str, bytes], key: Any, now: int = NOW, valid_for: int | None = None) -> str:
    signing_key = load_signing_key(_pem(key), "test")
    return make_signature(signing_key, revision(files), files["manifest.json"], now, valid_for)


def signed(files: Mapping[str, bytes], *jws: str) -> dict[str, bytes]:
    data: bytes | None = None
    for one in jws:
        data = with_signature(data, one)
    assert data is not None
    return {**files, "signatures.json": data}


def load(files: Mapping[str, bytes], trust: Trust, now: float = NOW + 10) -> SignatureReport:
    report = load_bundle_files(files, trust=trust, now=now).signatures
    assert report is not None
    return report


def refusal(files: Mapping[str, bytes], trust: Trust, now: float = NOW + 10) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        load_bundle_files(files, trust=trust, now=now)
    return caught.value


def forged(header: Mapping[str, Any] | str, payload: Mapping[str, Any] | str, sig: bytes = b"x" * 64) -> str:
    def segment(part: Mapping[str, Any] | str) -> str:
        raw = part if isinstance(part, str) else json.dumps(part, separators=(",", ":"))
        return b64url_encode(raw.encode())

    return f"{segment(header)}.{segment(payload)}.{b64url_encode(sig)}"


def good_payload(files: Mapping[str, bytes]) -> dict[str, Any]:
    return {
        "revision": revision(files),
        "manifest_sha256": hashlib.sha256(files["manifest.json"]).hexdigest(),
        "iat": NOW,
    }


def signed_by_hand(key: Any, header: Mapping[str, Any] | str, payload: Mapping[str, Any]) -> str:
    """A JWS whose header we choose, really signed by `key` (so only the header is at fault)."""
    signing_input = forged(header, payload, b"")[:-1]
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode("ascii")))


# ---- accepted --------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "alg"), [(ED, "EdDSA"), (ES, "ES256"), (RS, "RS256")])
def test_a_signature_by_a_trusted_key_is_accepted(tmp_path: Path, key: Any, alg: str) -> None:
    files = unsigned()
    report = load(signed(files, signature(files, key)), trust_of(tmp_path, key))
    assert report.signers == (kid_of(key),)
    assert [(v.algorithm, v.valid) for v in report.verdicts] == [(alg, True)]


def test_signing_never_changes_the_revision_or_another_file() -> None:
    files = unsigned()
    both = signed(files, signature(files, ED), signature(files, ES))
    assert {name: both[name] for name in files} == files
    assert load_bundle_files(both).revision == revision(files)


def test_two_distinct_signers_meet_require_two(tmp_path: Path) -> None:
    files = unsigned()
    report = load(signed(files, signature(files, ED), signature(files, RS)),
                  trust_of(tmp_path, ED, RS, required=2))
    assert report.signers == tuple(sorted([kid_of(ED), kid_of(RS)]))


def test_a_key_that_signed_twice_counts_once(tmp_path: Path) -> None:
    files = unsigned()
    twice = signed(files, signature(files, ED), signature(files, ED, now=NOW + 1))
    error = refusal(twice, trust_of(tmp_path, ED, RS, required=2))
    assert error.problems[0] == "2 distinct trusted signers needed, 1 found"


def test_an_untrusted_signature_beside_a_trusted_one_does_not_hurt(tmp_path: Path) -> None:
    files = unsigned()
    report = load(signed(files, signature(files, OTHER), signature(files, ED)), trust_of(tmp_path, ED))
    assert [v.valid for v in report.verdicts] == [False, True]
    assert report.verdicts[0].reason == "signed by a key that is not trusted"


# ---- refused: the bundle ---------------------------------------------------------------------


def test_an_unsigned_bundle_is_refused_with_trust(tmp_path: Path) -> None:
    error = refusal(unsigned(), trust_of(tmp_path, ED))
    assert error.problems == ["the bundle is not signed (no signatures.json)"]


def test_an_untrusted_signer_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    error = refusal(signed(files, signature(files, OTHER)), trust_of(tmp_path, ED))
    assert error.problems[1].endswith("refused: signed by a key that is not trusted")


def test_a_file_altered_after_signing_with_the_manifest_rewritten_is_refused(tmp_path: Path) -> None:
    files = signed(unsigned(), signature(unsigned(), ED))
    altered = dict(files)
    altered["config.json"] = files["config.json"].replace(b'"issuer"', b'"issuer" ', 1)
    hashes = {n: hashlib.sha256(altered[n]).hexdigest() for n in ("config.json", "mappings.py")}
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["config.json"] = {"sha256": hashes["config.json"],
                                        "size": len(altered["config.json"])}
    manifest["revision"] = revision_of(hashes)
    altered["manifest.json"] = json.dumps(manifest).encode()
    assert load_bundle_files(altered).revision != revision(files)  # a consistent bundle
    error = refusal(altered, trust_of(tmp_path, ED))
    assert "signs another bundle" in error.problems[1]


def test_a_manifest_changed_without_changing_the_revision_is_refused(tmp_path: Path) -> None:
    files = signed(unsigned(), signature(unsigned(), ED))
    manifest = json.loads(files["manifest.json"])
    manifest["compiler"] = "tokensmith 0.0.0-evil"
    altered = {**files, "manifest.json": json.dumps(manifest).encode()}
    assert "signs another bundle" in refusal(altered, trust_of(tmp_path, ED)).problems[1]


def test_a_valid_signature_moved_from_another_bundle_is_refused(tmp_path: Path) -> None:
    other = bundle_files(config({}, {}, {}, cors=["https://app.example"]))
    moved = signed(unsigned(), signature(other, ED))
    assert "signs another bundle" in refusal(moved, trust_of(tmp_path, ED)).problems[1]


def test_no_code_of_the_bundle_runs_before_its_signatures_are_judged(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    files = unsigned()
    evil = files["mappings.py"] + f"\nopen({str(marker)!r}, 'w').close()\n".encode()
    hashes = {"config.json": hashlib.sha256(files["config.json"]).hexdigest(),
              "mappings.py": hashlib.sha256(evil).hexdigest()}
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["mappings.py"] = {"sha256": hashes["mappings.py"], "size": len(evil)}
    manifest["revision"] = revision_of(hashes)
    rewritten = {**files, "mappings.py": evil, "manifest.json": json.dumps(manifest).encode()}
    refusal(signed(rewritten, signature(files, ED)), trust_of(tmp_path, ED))
    assert not marker.exists()
    load_bundle_files(rewritten)  # without trust it does run: the marker proves the test bites
    assert marker.exists()


# ---- refused: one signature ------------------------------------------------------------------


def only_verdict(files: Mapping[str, bytes], jws: str, trust: Trust) -> str:
    error = refusal(signed(files, jws), trust)
    assert error.report is not None and len(error.report.verdicts) == 1
    verdict = error.report.verdicts[0]
    assert not verdict.valid
    return verdict.reason


def test_a_flipped_signature_byte_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    head, body, sig = signature(files, ED).split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[10] ^= 0x01
    jws = f"{head}.{body}.{b64url_encode(bytes(raw))}"
    assert only_verdict(files, jws, trust_of(tmp_path, ED)) == "the signature does not verify"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(tmp_path: Path, alg: str) -> None:
    files = unsigned()
    jws = forged({"alg": alg, "kid": kid_of(ED)}, good_payload(files), b"")
    jws = jws.rstrip(".") + "."  # the unsecured form has an empty signature
    reason = only_verdict(files, jws, trust_of(tmp_path, ED))
    assert reason == "alg none (an unsigned token) is refused"


def test_hs256_with_the_public_key_as_secret_is_refused(tmp_path: Path) -> None:
    """Algorithm confusion: an HMAC over the header and payload keyed with the trusted PEM."""
    files = unsigned()
    head_payload = forged({"alg": "HS256", "kid": kid_of(RS)}, good_payload(files), b"")[:-1]
    mac = hmac.digest(_pub(RS), head_payload.encode(), "sha256")
    reason = only_verdict(files, f"{head_payload}.{b64url_encode(mac)}", trust_of(tmp_path, RS))
    assert reason == "algorithm HS256 cannot sign bundles (EdDSA, ES256, RS256)"


def test_an_algorithm_that_does_not_fit_the_key_type_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    jws = signed_by_hand(ED, {"alg": "ES256", "kid": kid_of(ED)}, good_payload(files))
    reason = only_verdict(files, jws, trust_of(tmp_path, ED))
    assert reason == "algorithm ES256 does not fit the trusted OKP key"


def test_rs256_header_under_an_ec_key_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    jws = forged({"alg": "RS256", "kid": kid_of(ES)}, good_payload(files), b"\x01" * 256)
    assert only_verdict(files, jws, trust_of(tmp_path, ES)) == (
        "algorithm RS256 does not fit the trusted EC key"
    )


def test_crit_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    jws = signed_by_hand(ED, {"alg": "EdDSA", "kid": kid_of(ED), "crit": ["exp"]}, good_payload(files))
    assert only_verdict(files, jws, trust_of(tmp_path, ED)).startswith("crit header refused")


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c"])
def test_a_key_carried_in_the_header_is_refused(tmp_path: Path, member: str) -> None:
    files = unsigned()
    attacker = ed25519.Ed25519PrivateKey.generate()
    value: Any = public_jwk(attacker.public_key()) if member == "jwk" else "https://evil.example/k"
    header = {"alg": "EdDSA", "kid": kid_of(ED), member: value}
    jws = signed_by_hand(attacker, header, good_payload(files))
    reason = only_verdict(files, jws, trust_of(tmp_path, ED))
    assert reason == f"header carries a key ({member}): keys come only from --trust"


def test_an_unexpected_header_member_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    jws = signed_by_hand(ED, {"alg": "EdDSA", "kid": kid_of(ED), "b64": False}, good_payload(files))
    assert only_verdict(files, jws, trust_of(tmp_path, ED)).startswith("unexpected header member b64")


@pytest.mark.parametrize("spoil", ["padding", "unused_bits", "standard_alphabet"])
def test_non_canonical_base64url_is_refused(tmp_path: Path, spoil: str) -> None:
    files = unsigned()
    head, body, sig = signature(files, ED).split(".")
    if spoil == "padding":
        sig += "=="
    elif spoil == "unused_bits":  # 64 bytes: the last character carries 4 unused bits
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        sig = sig[:-1] + alphabet[alphabet.index(sig[-1]) | 1]
    else:
        body = body.replace("-", "+").replace("_", "/") if ("-" in body or "_" in body) else body + "+"
    reason = only_verdict(files, f"{head}.{body}.{sig}", trust_of(tmp_path, ED))
    assert reason == "not canonical base64url"


def test_a_duplicate_member_in_the_header_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    header = f'{{"alg":"EdDSA","kid":"{kid_of(OTHER)}","kid":"{kid_of(ED)}"}}'
    jws = signed_by_hand(ED, header, good_payload(files))
    assert only_verdict(files, jws, trust_of(tmp_path, ED)) == (
        "the header is not strict JSON (duplicate member)"
    )


def test_a_duplicate_member_in_the_payload_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    payload = good_payload(files)
    text = json.dumps(payload, separators=(",", ":"))[:-1] + ',"revision":"0"}'
    head = b64url_encode(json.dumps({"alg": "EdDSA", "kid": kid_of(ED)}).encode())
    signing_input = f"{head}.{b64url_encode(text.encode())}"
    jws = f"{signing_input}.{b64url_encode(ED.sign(signing_input.encode()))}"
    assert only_verdict(files, jws, trust_of(tmp_path, ED)) == (
        "the payload is not strict JSON (duplicate member)"
    )


def test_a_duplicate_member_in_signatures_json_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    good = json.dumps(signature(files, ED))
    data = f'{{"signatures":[{good}],"signatures":[]}}'.encode()
    error = refusal({**files, "signatures.json": data}, trust_of(tmp_path, ED))
    assert error.problems == ["signatures.json is not strict JSON (duplicate member)"]


def test_an_oversized_signatures_json_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    big = json.dumps({"signatures": [signature(files, ED)], "pad": "x" * (10 * 1024 * 1024)}).encode()
    error = refusal({**files, "signatures.json": big}, trust_of(tmp_path, ED))
    assert error.problems[0].startswith(f"signatures.json is {len(big)} bytes, over the limit")
    directory = tmp_path / "bundle"
    directory.mkdir()
    for name, data in {**files, "signatures.json": big}.items():
        (directory / name).write_bytes(data)
    with pytest.raises(BundleError, match=f"signatures.json: {len(big)} bytes is over the limit of 262144"):
        load_bundle(str(directory), trust_of(tmp_path, ED))


def test_too_many_signatures_are_refused(tmp_path: Path) -> None:
    files = unsigned()
    many = json.dumps({"signatures": ["a.b.c"] * 10_000}).encode()
    error = refusal({**files, "signatures.json": many}, trust_of(tmp_path, ED))
    assert error.problems == [f"signatures.json holds 10000 signatures, over the limit of {MAX_SIGNATURES}"]


def test_an_expired_signature_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    jws = signature(files, ED, now=NOW, valid_for=3600)
    error = refusal(signed(files, jws), trust_of(tmp_path, ED), now=NOW + 3600)
    assert error.report is not None
    reason = error.report.verdicts[0].reason
    assert reason == "expired at " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 3600))


@pytest.mark.parametrize("exp", [-(10**30), 10**30, 0])
def test_an_absurd_expiry_is_refused_or_shown_without_error(tmp_path: Path, exp: int) -> None:
    files = unsigned()
    payload = {**good_payload(files), "exp": exp}
    jws = signed_by_hand(ED, {"alg": "EdDSA", "kid": kid_of(ED)}, payload)
    if exp > NOW:
        assert load(signed(files, jws), trust_of(tmp_path, ED)).signers == (kid_of(ED),)
    else:
        assert only_verdict(files, jws, trust_of(tmp_path, ED)).startswith("expired at ")


def test_a_signature_expiring_within_seven_days_is_accepted_with_a_warning(tmp_path: Path) -> None:
    files = unsigned()
    trust = trust_of(tmp_path, ED)
    soon = load(signed(files, signature(files, ED, valid_for=3 * 86400)), trust, now=NOW + 86400)
    assert soon.warnings == (f"the signature of key {kid_of(ED)} expires in 2.0 days; sign the bundle again",)
    later = load(signed(files, signature(files, ED, valid_for=30 * 86400)), trust, now=NOW + 86400)
    assert later.warnings == ()


def test_a_signature_from_the_future_is_refused(tmp_path: Path) -> None:
    files = unsigned()
    error = refusal(signed(files, signature(files, ED, now=NOW + 3600)), trust_of(tmp_path, ED), now=NOW)
    assert error.report is not None
    assert error.report.verdicts[0].reason == "signed in the future (iat is ahead of this clock)"


@pytest.mark.parametrize(
    "payload_change",
    [{"iat": 1.5}, {"iat": True}, {"exp": "never"}, {"extra": 1}, {"revision": 7}],
)
def test_a_payload_of_the_wrong_shape_is_refused(tmp_path: Path, payload_change: dict[str, Any]) -> None:
    files = unsigned()
    jws = signed_by_hand(ED, {"alg": "EdDSA", "kid": kid_of(ED)}, {**good_payload(files), **payload_change})
    reason = only_verdict(files, jws, trust_of(tmp_path, ED))
    assert reason == "the payload is not {revision, manifest_sha256, iat[, exp]}"


def test_an_untrusted_kid_text_is_never_echoed(tmp_path: Path) -> None:
    files = unsigned()
    jws = signed_by_hand(ED, {"alg": "EdDSA", "kid": "<script>\n" + "A" * 300}, good_payload(files))
    error = refusal(signed(files, jws), trust_of(tmp_path, ED))
    assert error.report is not None and error.report.verdicts[0].kid == "?"


# ---- keys ------------------------------------------------------------------------------------


def test_the_key_id_is_the_rfc_7638_thumbprint() -> None:
    # RFC 7638 section 3.1
    jwk = {
        "kty": "RSA",
        "e": "AQAB",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_trust_as_pem_jwk_jwk_set_and_directory_names_one_key(tmp_path: Path, algorithm: str) -> None:
    private_pem, public_pem, kid = generate_key(algorithm)
    key = serialization.load_pem_public_key(public_pem)
    jwk = {**public_jwk(key), "kid": "whatever-the-file-says", "use": "sig"}  # type: ignore[arg-type]
    (tmp_path / "k.pub").write_bytes(public_pem)
    (tmp_path / "k.jwk").write_text(json.dumps(jwk))
    (tmp_path / "set.json").write_text(json.dumps({"keys": [jwk]}))
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "k.pub").write_bytes(public_pem)
    (directory / "..data").mkdir()  # what a mounted Kubernetes Secret holds besides its keys
    for path in ("k.pub", "k.jwk", "set.json", "dir"):
        keys = load_trust([str(tmp_path / path)])
        assert [k.kid for k in keys] == [kid]
    assert load_signing_key(private_pem, "test").kid == kid


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (lambda: _pem(ED), "a private key"),
        (lambda: json.dumps({"kty": "oct", "k": "c2VjcmV0"}).encode(), "symmetric_key"),
        (lambda: _pub(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "weak_key"),
        (lambda: _pub(ec.generate_private_key(ec.SECP384R1())), "alg_not_allowed"),
        (lambda: b"just some text", "not a PEM public key, a JWK or a JWK Set"),
        (lambda: json.dumps({**public_jwk(ED.public_key()), "d": "AAAA"}).encode(), "private_key"),
    ],
)
def test_trust_refuses_what_is_not_a_public_signature_key(tmp_path: Path, content: Any, why: str) -> None:
    path = tmp_path / "trusted"
    path.write_bytes(content())
    with pytest.raises(TrustError, match=why):
        load_trust([str(path)])


def test_trust_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="no key files"):
        load_trust([str(tmp_path)])


@pytest.mark.parametrize(
    ("material", "why"),
    [
        (lambda: _pub(ED), "a public key"),
        (lambda: b"a-shared-hmac-secret-of-at-least-32-bytes!!", "HMAC secret cannot sign bundles"),
        (lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
         "RSA keys must have 2048"),
        (lambda: _pem(ec.generate_private_key(ec.SECP384R1())), "P-256"),
    ],
)
def test_signing_refuses_keys_that_cannot_sign_bundles(material: Any, why: str) -> None:
    data = material()
    with pytest.raises(SigningKeyError, match=why) as caught:
        load_signing_key(data, "KEY k")
    assert data.decode(errors="replace").strip().splitlines()[-1] not in str(caught.value)


def test_a_signing_key_repr_never_shows_the_key() -> None:
    key = load_signing_key(_pem(ED), "KEY k")
    assert "PRIVATE" not in repr(key) and key.kid in repr(key)
