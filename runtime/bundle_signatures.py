"""Bundle signatures: `signatures.json`, made by `tokensmith sign`, judged before a bundle loads.

`signatures.json` is `{"signatures": [<compact JWS>, ...]}`. Each JWS has the header
`{"alg", "kid"}` (the signer's RFC 7638 thumbprint) and the payload
`{"revision", "manifest_sha256", "iat"[, "exp"]}`: it signs the exact `manifest.json`, which
lists every file's sha256, so a signature covers the whole bundle. The file is not part of the
revision, so signing never changes the bundle and several signers can each add theirs.

Judging is as strict as `POST /tokens` is with subject tokens, and stricter in shape: the header
holds `alg` and `kid` and nothing else (`alg: none`, `crit`, and keys carried by the token,
`jwk`/`jku`/`x5u`/`x5c`, are named when refused); the algorithm must fit the trusted key's type;
every segment is canonical base64url; header, payload and file are strict JSON (a duplicate
member is refused); the file is at most `MAX_FILE_BYTES` and holds at most `MAX_SIGNATURES`
signatures. A bundle is accepted when at least `required` distinct trusted keys made valid,
unexpired signatures over this manifest; a key that signed twice counts once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .b64 import Base64Error, b64url_decode, b64url_encode
from .bundle import SIGNATURES, SIZE_LIMITS
from .bundle_keys import SIGNATURE_ALGORITHMS, BundleSigningKey, TrustedKey
from .errors import BundleError
from .strict_json import StrictJSONError, loads

MAX_FILE_BYTES = SIZE_LIMITS[SIGNATURES]
MAX_SIGNATURES = 64
MAX_JWS_LENGTH = 4096
#: A signature expiring sooner than this is accepted with a warning.
EXPIRY_WARNING_SECONDS = 7 * 86400
#: A signature made further than this in the future (by the verifier's clock) is refused.
CLOCK_SKEW_SECONDS = 300

_HEADER_MEMBERS = frozenset({"alg", "kid"})
_EMBEDDED_KEY_MEMBERS = ("jwk", "jku", "x5u", "x5c")
_PAYLOAD_MEMBERS = frozenset({"revision", "manifest_sha256", "iat"})
_KID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class SignatureError(BundleError):
    """The bundle's signatures do not satisfy the trust given; `report` has one verdict each."""

    def __init__(self, problems: Sequence[str], report: SignatureReport | None = None) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)
        self.report = report


@dataclass(frozen=True)
class Trust:
    """What a bundle must carry: signatures by at least `required` distinct keys of `keys`."""

    keys: tuple[TrustedKey, ...]
    required: int = 1

    def key(self, kid: str) -> TrustedKey | None:
        return next((key for key in self.keys if key.kid == kid), None)


@dataclass(frozen=True)
class Verdict:
    """The judgement of one signature: `valid`, and why (or when it expires)."""

    index: int
    kid: str
    algorithm: str
    valid: bool
    reason: str
    expires: int | None = None

    def line(self) -> str:
        verdict = "valid" if self.valid else "refused"
        return f"signature {self.index}: key {self.kid} {self.algorithm}: {verdict}: {self.reason}"


@dataclass(frozen=True)
class SignatureReport:
    """What is known of a bundle's signatures: `checked` only when trust was given."""

    checked: bool
    present: bool
    verdicts: tuple[Verdict, ...] = ()
    signers: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def signed(self) -> bool:
        """True when trusted keys made valid signatures (only ever when `checked`)."""
        return bool(self.signers)


def unchecked(signatures: bytes | None) -> SignatureReport:
    """The report for a bundle loaded without trust: its signatures were not judged."""
    return SignatureReport(checked=False, present=signatures is not None)


def manifest_digest(manifest: bytes) -> str:
    return hashlib.sha256(manifest).hexdigest()


# ---- signing ---------------------------------------------------------------------------------


def make_signature(
    key: BundleSigningKey, revision: str, manifest: bytes, now: int, valid_for: int | None
) -> str:
    """A compact JWS over the bundle whose `manifest.json` bytes are `manifest`."""
    header = {"alg": key.algorithm, "kid": key.kid}
    payload: dict[str, Any] = {
        "revision": revision,
        "manifest_sha256": manifest_digest(manifest),
        "iat": now,
    }
    if valid_for is not None:
        payload["exp"] = now + valid_for
    signing_input = ".".join(b64url_encode(_compact(part)) for part in (header, payload))
    signature = _sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def with_signature(existing: bytes | None, jws: str) -> bytes:
    """The new `signatures.json`: the signatures already there (which must parse) and `jws`."""
    signatures = [] if existing is None else parse_file(existing)
    if len(signatures) >= MAX_SIGNATURES:
        raise SignatureError([f"{SIGNATURES} already holds {MAX_SIGNATURES} signatures"])
    text = json.dumps({"signatures": [*signatures, jws]}, indent=2, sort_keys=True)
    return (text + "\n").encode("ascii")


def _sign(key: BundleSigningKey, data: bytes) -> bytes:
    private = key.private_key
    if isinstance(private, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return private.sign(data)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if isinstance(private, rsa.RSAPrivateKey):
        return private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise BundleError("a key type that cannot sign bundles")  # pragma: no cover - load refuses


def _compact(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")


# ---- judging ---------------------------------------------------------------------------------


def parse_file(data: bytes) -> list[str]:
    """The JWS texts of a `signatures.json`; `SignatureError` when it is not one, or too big."""
    if len(data) > MAX_FILE_BYTES:
        raise SignatureError([f"{SIGNATURES} is {len(data)} bytes, over the limit of {MAX_FILE_BYTES}"])
    try:
        document = loads(data)
    except StrictJSONError as exc:
        raise SignatureError([f"{SIGNATURES} is not strict JSON ({exc})"]) from None
    if not isinstance(document, dict) or set(document) != {"signatures"}:
        raise SignatureError([f'{SIGNATURES} must be {{"signatures": [...]}}'])
    signatures = document["signatures"]
    if not isinstance(signatures, list) or not all(isinstance(s, str) for s in signatures):
        raise SignatureError([f"{SIGNATURES}: `signatures` must be a list of compact JWS strings"])
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureError(
            [f"{SIGNATURES} holds {len(signatures)} signatures, over the limit of {MAX_SIGNATURES}"]
        )
    return signatures


def check_signatures(
    revision: str, manifest: bytes, signatures: bytes | None, trust: Trust, now: float
) -> SignatureReport:
    """Judge every signature; raise `SignatureError` (with the report) unless the bundle is
    signed by at least `trust.required` distinct trusted keys."""
    if signatures is None:
        raise SignatureError([f"the bundle is not signed (no {SIGNATURES})"])
    digest = manifest_digest(manifest)
    verdicts = tuple(
        _judge(index, jws, revision, digest, trust, now)
        for index, jws in enumerate(parse_file(signatures), start=1)
    )
    signers = tuple(sorted({v.kid for v in verdicts if v.valid}))
    warnings = tuple(
        f"the signature of key {v.kid} expires in {_days(v.expires - now)}; sign the bundle again"
        for v in verdicts
        if v.valid and v.expires is not None and v.expires - now < EXPIRY_WARNING_SECONDS
    )
    report = SignatureReport(True, True, verdicts, signers, warnings)
    if len(signers) < trust.required:
        wanted = f"{trust.required} distinct trusted signer{'s' if trust.required > 1 else ''}"
        problems = [f"{wanted} needed, {len(signers)} found"]
        problems += [v.line() for v in verdicts if not v.valid]
        raise SignatureError(problems, report)
    return report


def _judge(
    index: int, jws: str, revision: str, digest: str, trust: Trust, now: float
) -> Verdict:
    try:
        header, payload, signing_input, signature = _parse(jws)
    except _Refused as refused:
        return Verdict(index, refused.kid, refused.alg, False, str(refused))
    kid, alg = _shown(header["kid"]), header["alg"]  # kid: the header's text, or "?"

    def refuse(reason: str) -> Verdict:
        return Verdict(index, kid, alg, False, reason)

    trusted = trust.key(header["kid"])
    if trusted is None:
        return refuse("signed by a key that is not trusted")
    if alg not in trusted.key.algorithms:
        return refuse(f"algorithm {alg} does not fit the trusted {trusted.kind} key")
    if not trusted.key.verify(alg, signing_input, signature):
        return refuse("the signature does not verify")
    if payload["revision"] != revision or payload["manifest_sha256"] != digest:
        return refuse(f"signs another bundle (revision {str(payload['revision'])[:12]})")
    if payload["iat"] > now + CLOCK_SKEW_SECONDS:
        return refuse("signed in the future (iat is ahead of this clock)")
    expires = payload.get("exp")
    if expires is not None and expires <= now:
        return refuse(f"expired at {_when(expires)}")
    until = "no expiry" if expires is None else f"expires {_when(expires)}"
    return Verdict(index, kid, alg, True, until, expires)


class _Refused(BundleError):
    """Internal: one signature is malformed; carries what can safely be shown of its header."""

    def __init__(self, reason: str, kid: str = "?", alg: str = "?") -> None:
        super().__init__(reason)
        self.kid = kid
        self.alg = alg


def _parse(jws: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if len(jws) > MAX_JWS_LENGTH or not jws.isascii() or jws.count(".") != 2:
        raise _Refused("not a compact JWS")
    head, body, sig = jws.split(".")
    header = _json_segment(head, "header")
    kid, alg = _shown(header.get("kid")), _shown(header.get("alg"))
    try:
        _check_header(header)
        payload = _json_segment(body, "payload")
        _check_payload(payload)
        signature = _segment(sig)
    except _Refused as refused:
        raise _Refused(str(refused), kid, alg) from None
    return header, payload, f"{head}.{body}".encode("ascii"), signature


def _check_header(header: Mapping[str, Any]) -> None:
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        raise _Refused("alg none (an unsigned token) is refused")
    if "crit" in header:
        raise _Refused("crit header refused: no extension is implemented")
    carried = [name for name in _EMBEDDED_KEY_MEMBERS if name in header]
    if carried:
        raise _Refused(f"header carries a key ({carried[0]}): keys come only from --trust")
    extra = sorted(set(header) - _HEADER_MEMBERS)
    if extra:
        raise _Refused(f"unexpected header member {_shown(extra[0])}; the header is {{alg, kid}}")
    if alg not in SIGNATURE_ALGORITHMS:
        raise _Refused(f"algorithm {_shown(alg)} cannot sign bundles (EdDSA, ES256, RS256)")
    if not isinstance(header.get("kid"), str):
        raise _Refused("the header has no kid")


def _check_payload(payload: Mapping[str, Any]) -> None:
    members = set(payload) - {"exp"}
    numbers = [payload[name] for name in ("iat", "exp") if name in payload]
    if (
        members != _PAYLOAD_MEMBERS
        or not isinstance(payload["revision"], str)
        or not isinstance(payload["manifest_sha256"], str)
        or not all(type(value) is int for value in numbers)
    ):
        raise _Refused("the payload is not {revision, manifest_sha256, iat[, exp]}")


def describe(signatures: bytes | None) -> dict[str, dict[str, str]]:
    """What each signature says of itself, by key id, *not verified* (for `diff`): algorithm,
    when it was made and when it expires. A key that signed twice shows its latest signature;
    a signature that does not parse shows as `signature N` with the reason."""
    if signatures is None:
        return {}
    try:
        texts = parse_file(signatures)
    except SignatureError as exc:
        return {SIGNATURES: {"unreadable": exc.problems[0]}}
    described: dict[str, dict[str, str]] = {}
    for index, jws in enumerate(texts, start=1):
        try:
            header, payload, _, _ = _parse(jws)
        except _Refused as refused:
            described[f"signature {index}"] = {"unreadable": str(refused)}
            continue
        entry = {
            "algorithm": header["alg"],
            "signed": _when(payload["iat"]),
            "expires": "never" if "exp" not in payload else _when(payload["exp"]),
        }
        kid = _shown(header["kid"])
        if kid not in described or described[kid].get("signed", "") <= entry["signed"]:
            described[kid] = entry
    return described


def _json_segment(text: str, name: str) -> dict[str, Any]:
    try:
        value = loads(_segment(text))
    except StrictJSONError as exc:
        raise _Refused(f"the {name} is not strict JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _Refused(f"the {name} is not a JSON object")
    return value


def _segment(text: str) -> bytes:
    try:
        return b64url_decode(text)
    except Base64Error:
        raise _Refused("not canonical base64url") from None


def _shown(value: object) -> str:
    """A header value safe to print: base64url characters, at most 64, else `?`."""
    if isinstance(value, str) and 0 < len(value) <= 64 and set(value) <= _KID_CHARACTERS:
        return value
    return "?"


def _when(epoch: int) -> str:
    """ISO 8601 UTC for years 1970 to 9999; any other number as itself (never an error)."""
    if not 0 <= epoch <= 253_402_300_799:
        return f"{epoch} (seconds since 1970)"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} days" if days >= 1 else f"{max(seconds, 0) / 3600:.1f} hours"
