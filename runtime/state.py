"""What an exchange needs at hand: the bundle, the provider index, key sources and signers.

`build_state` is called once per loaded bundle, at start-up; the exchange then only reads. A
new bundle means a new state, swapped whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .bundle import Bundle
from .errors import StartupError
from .idp_index import IdentityProviderIndex
from .jwk import JwkSetError, parse_inline_jwks
from .keys import KeySource
from .model import IdentityProviderSpec
from .signing import Signer, SigningKeyError, load_signer
from .static_keys import StaticKeySource
from .verification_keys import HmacKey, KeyMaterialError


@dataclass(frozen=True)
class ExchangeState:
    """Read-only inputs of `exchange()` besides the request and the clock."""

    bundle: Bundle
    index: IdentityProviderIndex
    key_sources: Mapping[str, KeySource]  # identity provider name -> its keys
    signers: Mapping[str, Signer]  # signing key id -> signer


def build_signers(bundle: Bundle, key_material: Mapping[str, bytes]) -> Mapping[str, Signer]:
    """One signer per signing key from its resolved secret or private key; `StartupError` lists
    every key that is missing or does not fit its algorithm."""
    signers: dict[str, Signer] = {}
    problems: list[str] = []
    for kid, spec in sorted(bundle.config.signing_keys.items()):
        if kid not in key_material:
            problems.append(f"signing key {kid}: its secret or private key is not resolved")
            continue
        try:
            signers[kid] = load_signer(spec, key_material[kid])
        except SigningKeyError as exc:
            problems.append(f"signing key {kid}: {exc}")
    if problems:
        raise StartupError(problems)
    return MappingProxyType(signers)


def build_key_sources(
    bundle: Bundle,
    idp_secrets: Mapping[str, bytes],
    remote_sources: Mapping[str, KeySource],
) -> Mapping[str, KeySource]:
    """One key source per identity provider; `StartupError` lists every provider without one.

    `idp_secrets` holds the resolved secret bytes of the providers configured with `secret`;
    `remote_sources` the JWKS cache's source of each `jwks_url` / `discovery` provider.
    """
    sources: dict[str, KeySource] = {}
    problems: list[str] = []
    for name, spec in sorted(bundle.config.identity_providers.items()):
        try:
            sources[name] = _key_source(spec, idp_secrets, remote_sources)
        except (KeyMaterialError, JwkSetError, LookupError) as exc:
            problems.append(f"identity provider {name}: {exc}")
    if problems:
        raise StartupError(problems)
    return MappingProxyType(sources)


def _key_source(
    spec: IdentityProviderSpec,
    idp_secrets: Mapping[str, bytes],
    remote_sources: Mapping[str, KeySource],
) -> KeySource:
    if spec.uses_remote_keys:
        if spec.name not in remote_sources:
            raise LookupError("no JWKS source for its jwks_url")
        return remote_sources[spec.name]
    if spec.secret is not None:
        if spec.name not in idp_secrets:
            raise LookupError(f"secret {spec.secret.describe()} is not resolved")
        # an HMAC secret has no key id: it answers tokens with any `kid`
        return StaticKeySource([HmacKey(None, idp_secrets[spec.name], spec.algorithms)])
    if spec.jwks is not None:
        result = parse_inline_jwks(spec.jwks, spec.algorithms)
        # the operator wrote these keys: a dropped one is a mistake to fix, not to skip
        if result.dropped:
            first = result.dropped[0]
            raise KeyMaterialError(f"inline jwks key {first.kid!r} is unusable ({first.reason})")
        if not result.keys:
            raise KeyMaterialError("its inline jwks holds no usable key")
        return StaticKeySource(result.keys)
    raise LookupError("no key source configured")
