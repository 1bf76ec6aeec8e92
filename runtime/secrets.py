"""Resolving secret references at start-up, reporting every problem at once.

A `SecretRef` (`runtime.model`) is `{env: NAME}`, `{file: PATH}` or `{encrypted: "tsv1:..."}`
plus an `encoding`. Resolution yields bytes:
- `env`: the variable's text; `file`: the file's bytes with one trailing newline (`\\n` or
  `\\r\\n`) removed, because editors and `echo` add one; `encrypted`: the value opened with the
  vault key from `TOKENSMITH_VAULT_KEY`.
- `encoding: utf8` (default) keeps the text's UTF-8 bytes, as State Backed's `sbsec_...`
  secrets are used; `base64` / `base64url` decode the text (surrounding whitespace and missing
  padding tolerated).

`resolve_all` resolves every reference of a config, builds the signers and the static key
sources, and raises one `StartupError` whose `problems` name each config item and what is wrong
with it, never the secret itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .errors import BundleError, StartupError
from .jose import HMAC_ALGORITHMS
from .jwk import JwkSetError, parse_inline_jwks
from .keys import VerificationKey
from .model import IdentityProviderSpec, RuntimeConfig, SecretRef, SigningKeySpec
from .signing import Signer, SigningKeyError, load_signer
from .static_keys import StaticKeySource
from .vault import VAULT_KEY_ENV, VaultError, open_sealed, parse_key
from .verification_keys import HMAC_MIN_BYTES, HmacKey, KeyMaterialError, looks_like_public_key

MAX_SECRET_FILE_BYTES = 1 << 20
# A secret of few distinct bytes ("aaaa...", "0000...") is guessable whatever its length.
MIN_DISTINCT_BYTES = 8
LOW_ENTROPY = f"the secret has fewer than {MIN_DISTINCT_BYTES} distinct bytes (guessable)"


class SecretError(BundleError, ValueError):
    """One reference cannot be resolved; the message names the reference, never the secret."""


@dataclass(frozen=True)
class ResolvedSecrets:
    """What start-up made of the secrets: signers by `kid`, static key sources by provider name."""

    signers: Mapping[str, Signer]
    key_sources: Mapping[str, StaticKeySource]


def resolve_secret(
    ref: SecretRef,
    env: Mapping[str, str],
    vault_key: bytes | None,
    *,
    base_dir: Path | None = None,
) -> bytes:
    """The key bytes of one reference; `SecretError` saying what is missing or wrong."""
    if ref.kind == "env":
        if ref.value not in env:
            raise SecretError(f"environment variable {ref.value} is not set")
        raw = _utf8(env[ref.value], f"environment variable {ref.value}")
    elif ref.kind == "file":
        raw = _read_file(ref.value, base_dir)
    elif ref.kind == "encrypted":
        if vault_key is None:
            raise SecretError(f"an encrypted secret needs {VAULT_KEY_ENV}, which is not set")
        try:
            raw = open_sealed(vault_key, ref.value)
        except VaultError as exc:
            raise SecretError(str(exc)) from None
    else:  # pragma: no cover - model.parse_config admits only the three kinds
        raise SecretError(f"unknown secret reference kind {ref.kind!r}")
    if not raw:
        raise SecretError(f"{ref.describe()} is empty")
    return _decode(raw, ref)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # os.environ keeps undecodable bytes as lone surrogates
        raise SecretError(f"{what} is not valid UTF-8") from None


def _read_file(name: str, base_dir: Path | None) -> bytes:
    path = Path(name)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretError(f"file {name} cannot be read ({exc.strerror or 'error'})") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise SecretError(f"file {name} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    if data.endswith(b"\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith(b"\n") else data


def _decode(raw: bytes, ref: SecretRef) -> bytes:
    if ref.encoding == "utf8":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(f"{ref.describe()} is not valid UTF-8") from None
        return raw
    text = raw.strip()
    text += b"=" * (-len(text) % 4)
    try:
        if ref.encoding == "base64":
            return base64.b64decode(text, validate=True)
        return base64.b64decode(text, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(f"{ref.describe()} is not valid {ref.encoding}") from None


def resolve_all(
    config: RuntimeConfig, env: Mapping[str, str], *, base_dir: Path | None = None
) -> ResolvedSecrets:
    """Signers and static key sources for `config`; `StartupError` listing every problem."""
    problems: list[str] = []
    vault_key = _vault_key(config, env, problems)
    resolver = _Resolver(env, vault_key, base_dir, problems)
    signers: dict[str, Signer] = {}
    for kid, spec in sorted(config.signing_keys.items()):
        signer = resolver.signer(spec)
        if signer is not None:
            signers[kid] = signer
    sources: dict[str, StaticKeySource] = {}
    for name, idp in sorted(config.identity_providers.items()):
        keys = resolver.identity_provider_keys(idp)
        if keys is not None:
            sources[name] = StaticKeySource(keys)
    if problems:
        raise StartupError(problems)
    return ResolvedSecrets(MappingProxyType(signers), MappingProxyType(sources))


def _all_refs(config: RuntimeConfig) -> list[SecretRef]:
    refs = [r for s in config.signing_keys.values() for r in (s.secret, s.private_key) if r]
    return refs + [i.secret for i in config.identity_providers.values() if i.secret]


def _vault_key(config: RuntimeConfig, env: Mapping[str, str], problems: list[str]) -> bytes | None:
    if not any(ref.kind == "encrypted" for ref in _all_refs(config)):
        return None
    text = env.get(VAULT_KEY_ENV)
    if text is None:
        problems.append(f"{VAULT_KEY_ENV}: not set, and the config has encrypted secrets")
        return None
    try:
        return parse_key(text)
    except VaultError as exc:
        problems.append(f"{VAULT_KEY_ENV}: {exc}")
        return None


@dataclass
class _Resolver:
    # repr=False: a crash report that prints this object must not print secrets.
    env: Mapping[str, str] = field(repr=False)
    vault_key: bytes | None = field(repr=False)
    base_dir: Path | None
    problems: list[str]
    signing_secrets: dict[bytes, str] = field(default_factory=dict, repr=False)
    # Each distinct reference is resolved once (10,000 providers often share one `{env}`):
    # its bytes, or the problem to report for every item that uses it.
    resolved: dict[SecretRef, bytes | SecretError] = field(default_factory=dict, repr=False)
    # HMAC keys by (secret, algorithms): checked and built once, shared by the providers
    hmac_keys: dict[tuple[bytes, tuple[str, ...]], list[VerificationKey] | str] = field(
        default_factory=dict, repr=False
    )

    def bytes_of(self, where: str, ref: SecretRef) -> bytes | None:
        if ref.kind == "encrypted" and self.vault_key is None:
            return None  # reported once, as the vault key problem
        outcome = self.resolved.get(ref)
        if outcome is None:
            try:
                outcome = resolve_secret(ref, self.env, self.vault_key, base_dir=self.base_dir)
            except SecretError as exc:
                outcome = exc
            self.resolved[ref] = outcome
        if isinstance(outcome, SecretError):
            self.problems.append(f"{where}: {outcome}")
            return None
        return outcome

    def signer(self, spec: SigningKeySpec) -> Signer | None:
        where = f"signing_keys.{spec.kid}"
        hmac = spec.algorithm in HMAC_ALGORITHMS
        ref = spec.secret if hmac else spec.private_key
        if ref is None:
            needed = "secret" if hmac else "private_key"
            self.problems.append(f"{where}: {spec.algorithm} needs a {needed}")
            return None
        material = self.bytes_of(where, ref)
        if material is None:
            return None
        try:
            signer = load_signer(spec, material)
        except SigningKeyError as exc:
            self.problems.append(f"{where}: {exc}")
            return None
        if hmac:
            if len(set(material)) < MIN_DISTINCT_BYTES:
                self.problems.append(f"{where}: {LOW_ENTROPY}")
                return None
            self.signing_secrets[material] = where
        return signer

    def identity_provider_keys(self, idp: IdentityProviderSpec) -> list[VerificationKey] | None:
        where = f"identity_providers.{idp.name}"
        if idp.secret is not None:
            return self._secret_keys(where, idp, idp.secret)
        if idp.jwks is not None:
            return self._inline_keys(where, idp)
        return None  # a remote (JWKS URL) provider: the JWKS cache provides its keys

    def _secret_keys(
        self, where: str, idp: IdentityProviderSpec, ref: SecretRef
    ) -> list[VerificationKey] | None:
        hmac_algs = [a for a in idp.algorithms if a in HMAC_ALGORITHMS]
        if len(hmac_algs) != len(idp.algorithms) or not hmac_algs:
            self.problems.append(f"{where}: a secret verifies only HS256, HS384 and HS512")
            return None
        secret = self.bytes_of(where, ref)
        if secret is None:
            return None
        # signing keys are all resolved before any provider: the outcome cannot change
        cache_key = (secret, tuple(hmac_algs))
        outcome = self.hmac_keys.get(cache_key)
        if outcome is None:
            outcome = self.hmac_keys[cache_key] = self._hmac_keys(secret, hmac_algs)
        if isinstance(outcome, str):
            self.problems.append(f"{where}: {outcome}")
            return None
        return list(outcome)

    def _hmac_keys(self, secret: bytes, hmac_algs: list[str]) -> list[VerificationKey] | str:
        """The provider's key for `secret`, or the problem with it."""
        problem = self._idp_secret_problem(secret, hmac_algs)
        if problem is not None:
            return problem
        try:
            return [HmacKey(None, secret, hmac_algs)]
        except KeyMaterialError as exc:  # pragma: no cover - checked just above
            return str(exc)

    def _idp_secret_problem(self, secret: bytes, hmac_algs: list[str]) -> str | None:
        minimum = max(HMAC_MIN_BYTES[a] for a in hmac_algs)
        if looks_like_public_key(secret):
            return "the secret is a public key; configure it as jwks"
        if len(secret) < minimum:
            return f"the secret has {len(secret)} bytes; {'/'.join(hmac_algs)} needs {minimum}"
        if len(set(secret)) < MIN_DISTINCT_BYTES:
            return LOW_ENTROPY
        if secret in self.signing_secrets:
            # tokens tokensmith issues would verify as this provider's tokens
            return f"the secret is also the secret of {self.signing_secrets[secret]}"
        return None

    def _inline_keys(self, where: str, idp: IdentityProviderSpec) -> list[VerificationKey] | None:
        try:
            result = parse_inline_jwks(idp.jwks, idp.algorithms)
        except JwkSetError as exc:
            self.problems.append(f"{where}.jwks: {exc}")
            return None
        for dropped in result.dropped:  # config-inline keys are the operator's: refuse, not skip
            kid = f" (kid {dropped.kid!r})" if dropped.kid is not None else ""
            self.problems.append(f"{where}.jwks: a key{kid} is not usable: {dropped.reason}")
        if not result.keys:
            self.problems.append(f"{where}.jwks: no usable key")
            return None
        return list(result.keys)
