"""Load and verify a compiled bundle, read-only.

The bundle is a directory of three files (see `docs/architecture.md`), and optionally a fourth,
`signatures.json`, outside the revision (`runtime/bundle_signatures.py`). Loading checks, in
order: the manifest's format, that the directory holds exactly the listed files, each file's
size limit, size and sha256, the revision over the file hashes, then, when trust is given, the
signatures, and only then parses `config.json` and executes the verified bytes of `mappings.py`
in a fresh namespace: no code of a bundle runs before its signatures are judged. Nothing is
ever written to the bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import BundleError
from .model import RuntimeConfig, parse_config

if TYPE_CHECKING:  # imported when used: the compiler reads this module, not the signatures
    from .bundle_signatures import SignatureReport, Trust

BUNDLE_FORMAT = "tokensmith-bundle/1"
MANIFEST = "manifest.json"
CONTENT_FILES = ("config.json", "mappings.py")
#: Optional, not part of the revision: added by `tokensmith sign`.
SIGNATURES = "signatures.json"
#: Per-file size limits in bytes: generous for 10,000 identity providers, small for a manifest.
SIZE_LIMITS = MappingProxyType(
    {
        MANIFEST: 64 * 1024,
        "config.json": 64 * 1024 * 1024,
        "mappings.py": 64 * 1024 * 1024,
        SIGNATURES: 256 * 1024,
    }
)

MappingFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
RequirementFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its resolved config and its generated mapping functions."""

    path: str | None
    revision: str
    compiler: str
    config: RuntimeConfig
    idp_mappings: Mapping[str, MappingFunction]
    idp_requirements: Mapping[str, RequirementFunction]
    tp_mappings: Mapping[str, MappingFunction]
    #: Services with `require` conditions -> `fn(intermediate claims, context) -> True` when
    #: they hold.
    tp_requirements: Mapping[str, RequirementFunction] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: What is known of its signatures; None for a bundle built in memory without any.
    signatures: SignatureReport | None = None


def revision_of(file_hashes: Mapping[str, str]) -> str:
    """The bundle revision: sha256 over one `<name> <sha256>` line per file, sorted by name."""
    text = "".join(f"{name} {file_hashes[name]}\n" for name in sorted(file_hashes))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_bundle(directory: str, trust: Trust | None = None, now: float | None = None) -> Bundle:
    """Read, verify and load the bundle in `directory`; `BundleError` names what is wrong.

    With `trust`, a bundle without enough valid signatures (judged at `now`, default the
    clock) is refused with a `SignatureError` before any of its code runs.
    """
    if not os.path.isdir(directory):
        raise BundleError(f"{directory}: not a bundle directory")
    present = set(os.listdir(directory))
    expected = {MANIFEST, *CONTENT_FILES, SIGNATURES}
    if MANIFEST not in present:
        raise BundleError(f"{directory}: no {MANIFEST}; not a tokensmith bundle")
    extra = sorted(present - expected)
    if extra:
        raise BundleError(f"{directory}: unexpected file {extra[0]} in the bundle")
    files = {name: _read_limited(directory, name) for name in sorted(present)}
    return load_bundle_files(files, origin=directory, path=directory, trust=trust, now=now)


def load_bundle_files(
    files: Mapping[str, bytes],
    origin: str = "<memory>",
    path: str | None = None,
    trust: Trust | None = None,
    now: float | None = None,
) -> Bundle:
    """Verify and load a bundle given as file contents (used by `load_bundle` and by tests)."""
    manifest = _manifest(files, origin)
    hashes: dict[str, str] = {}
    for name in CONTENT_FILES:
        hashes[name] = _verified_hash(files, manifest, name, origin)
    if manifest.get("revision") != revision_of(hashes):
        raise BundleError(f"{origin}/{MANIFEST}: revision does not match the files")
    signatures = _judge_signatures(files, str(manifest["revision"]), trust, now)
    try:
        config = parse_config(json.loads(files["config.json"].decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the interpreter's stack, e.g. 100,000 `[`.
        raise BundleError(f"{origin}/config.json: not valid JSON ({exc.__class__.__name__})") from None
    namespace = _exec_mappings(files["mappings.py"], origin)
    idp_maps = _functions(namespace, "IDENTITY_PROVIDER_MAPPINGS", origin)
    requirements = _functions(namespace, "IDENTITY_PROVIDER_REQUIREMENTS", origin)
    tp_maps = _functions(namespace, "TOKEN_PROVIDER_MAPPINGS", origin)
    # only written when a service has conditions: older bundles and configs without any lack it
    tp_requirements = _functions(namespace, "TOKEN_PROVIDER_REQUIREMENTS", origin, optional=True)
    _check_coverage(config, idp_maps, requirements, tp_maps, origin)
    with_tp_require = {s for s, spec in config.token_providers.items() if spec.has_require}
    if set(tp_requirements) != with_tp_require:
        raise BundleError(f"{origin}/mappings.py: service requirement functions differ from "
                          "config.json")
    return Bundle(
        path=path,
        revision=str(manifest["revision"]),
        compiler=str(manifest.get("compiler", "")),
        config=config,
        idp_mappings=idp_maps,
        idp_requirements=requirements,
        tp_mappings=tp_maps,
        tp_requirements=tp_requirements,
        signatures=signatures,
    )


def _judge_signatures(
    files: Mapping[str, bytes], revision: str, trust: Trust | None, now: float | None
) -> SignatureReport:
    from . import bundle_signatures as signing  # only loaders of signed bundles pay for it

    present = files.get(SIGNATURES)
    if trust is None:
        return signing.unchecked(present)
    moment = time.time() if now is None else now
    return signing.check_signatures(revision, files[MANIFEST], present, trust, moment)


def _read_limited(directory: str, name: str) -> bytes:
    full = os.path.join(directory, name)
    info = os.lstat(full)
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{full}: not a regular file")
    limit = SIZE_LIMITS.get(name, 0)
    if info.st_size > limit:
        raise BundleError(f"{full}: {info.st_size} bytes is over the limit of {limit}")
    with open(full, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"{full}: over the size limit of {limit} bytes")
    return data


def _manifest(files: Mapping[str, bytes], origin: str) -> Mapping[str, Any]:
    raw = files.get(MANIFEST)
    if raw is None:
        raise BundleError(f"{origin}: no {MANIFEST}; not a tokensmith bundle")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BundleError(f"{origin}/{MANIFEST}: not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{origin}/{MANIFEST}: format is not {BUNDLE_FORMAT}")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or sorted(listed) != sorted(CONTENT_FILES):
        raise BundleError(f"{origin}/{MANIFEST}: must list exactly {', '.join(CONTENT_FILES)}")
    if not isinstance(manifest.get("revision"), str):
        raise BundleError(f"{origin}/{MANIFEST}: revision is missing")
    return manifest


def _verified_hash(
    files: Mapping[str, bytes], manifest: Mapping[str, Any], name: str, origin: str
) -> str:
    data = files.get(name)
    if data is None:
        raise BundleError(f"{origin}/{name}: missing from the bundle")
    entry = manifest["files"][name]
    if not isinstance(entry, dict):
        raise BundleError(f"{origin}/{MANIFEST}: entry for {name} is not an object")
    if len(data) > SIZE_LIMITS[name]:
        raise BundleError(f"{origin}/{name}: over the size limit of {SIZE_LIMITS[name]} bytes")
    if entry.get("size") != len(data):
        raise BundleError(f"{origin}/{name}: size differs from the manifest (truncated or altered)")
    digest = hashlib.sha256(data).hexdigest()
    if entry.get("sha256") != digest:
        raise BundleError(f"{origin}/{name}: sha256 differs from the manifest (altered)")
    return digest


def _exec_mappings(source: bytes, origin: str) -> dict[str, Any]:
    filename = f"{origin}/mappings.py"
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise BundleError(f"{filename}: does not compile ({exc.__class__.__name__})") from None
    namespace: dict[str, Any] = {"__name__": "tokensmith_bundle_mappings", "__file__": filename}
    try:
        exec(code, namespace)
    except Exception as exc:
        raise BundleError(f"{filename}: failed to load ({exc.__class__.__name__}: {exc})") from None
    return namespace


def _functions(
    namespace: Mapping[str, Any], name: str, origin: str, optional: bool = False
) -> Mapping[str, Any]:
    table = namespace.get(name, {} if optional else None)
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and callable(v) for k, v in table.items()
    ):
        raise BundleError(f"{origin}/mappings.py: {name} is missing or not a table of functions")
    return MappingProxyType(dict(table))


def _check_coverage(
    config: RuntimeConfig,
    idp_maps: Mapping[str, Any],
    requirements: Mapping[str, Any],
    tp_maps: Mapping[str, Any],
    origin: str,
) -> None:
    if set(idp_maps) != set(config.identity_providers):
        raise BundleError(f"{origin}/mappings.py: identity provider mappings differ from config.json")
    if set(tp_maps) != set(config.token_providers):
        raise BundleError(f"{origin}/mappings.py: token provider mappings differ from config.json")
    with_require = {n for n, spec in config.identity_providers.items() if spec.has_require}
    if set(requirements) != with_require:
        raise BundleError(f"{origin}/mappings.py: requirement functions differ from config.json")
