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
from .idp_index import IdentityProviderIndex, index_of
from .keys import KeySource
from .secrets import ResolvedSecrets
from .signing import Signer


@dataclass(frozen=True)
class ExchangeState:
    """Read-only inputs of `exchange()` besides the request and the clock."""

    bundle: Bundle
    index: IdentityProviderIndex
    key_sources: Mapping[str, KeySource]  # identity provider name -> its keys
    signers: Mapping[str, Signer]  # signing key id -> signer


def build_state(
    bundle: Bundle, resolved_secrets: ResolvedSecrets, remote_sources: Mapping[str, KeySource]
) -> ExchangeState:
    """Join the bundle with its resolved keys; `StartupError` lists whatever is missing.

    `resolved_secrets` (from `runtime.secrets.resolve_all`) holds the signers and the static key
    sources (`secret` and inline `jwks` providers); `remote_sources` the JWKS cache's source of
    every `jwks_url` / `discovery` provider. The index may raise `BundleError` for two providers
    claiming the same issuer and audience.
    """
    config = bundle.config
    sources: dict[str, KeySource] = {}
    problems: list[str] = []
    for name, spec in sorted(config.identity_providers.items()):
        table: Mapping[str, KeySource] = (
            remote_sources if spec.uses_remote_keys else resolved_secrets.key_sources
        )
        if name in table:
            sources[name] = table[name]
        else:
            problems.append(f"identity_providers.{name}: no keys to verify its tokens with")
    for service, tp in sorted(config.token_providers.items()):
        if tp.signing_key not in resolved_secrets.signers:
            problems.append(
                f"token_providers.{service}: signing key {tp.signing_key} is not loaded"
            )
    if problems:
        raise StartupError(problems)
    return ExchangeState(
        bundle=bundle,
        index=index_of(config),
        key_sources=MappingProxyType(sources),
        signers=resolved_secrets.signers,
    )
