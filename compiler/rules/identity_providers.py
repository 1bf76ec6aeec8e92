"""Rules on one identity provider at a time: matching keys, algorithms, key sources, leeway.

Codes: E320 no issuer and no audience; E321 empty `algorithms`; E322 HMAC mixed with
asymmetric algorithms; E323 HS* without `secret`; E324 asymmetric algorithms with `secret`;
E325 no key source; E326 more than one key source; E327 `discovery` without `issuer`;
E328 `leeway` outside 0..300.
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E320, E321, E322, E323, E324, E325, E326, E327, E328
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import HMAC_ALGORITHMS, Config, IdentityProvider

from ._common import Rule, idp_path, quoted

MAX_LEEWAY = 300


def key_sources(idp: IdentityProvider) -> list[str]:
    """The key source fields an identity provider sets, in the order `docs/config.md` lists them."""
    sources = []
    if idp.jwks_url is not None:
        sources.append("jwks_url")
    if idp.jwks is not None:
        sources.append("jwks")
    if idp.secret is not None:
        sources.append("secret")
    if idp.discovery:
        sources.append("discovery")
    return sources


def families(idp: IdentityProvider) -> tuple[list[str], list[str]]:
    """The provider's HMAC algorithms and its asymmetric ones, each in the order written."""
    hmac: list[str] = [a for a in idp.algorithms if a in HMAC_ALGORITHMS]
    return hmac, [a for a in idp.algorithms if a not in HMAC_ALGORITHMS]


def issuer_or_audience(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        if idp.issuer is None and idp.audience is None:
            yield Diagnostic(
                E320,
                f"identity provider '{name}' has neither `issuer` nor `audience`, so no token "
                "can be matched to it",
                source_map.key(idp_path(name)),
                "set `issuer` (the token's `iss`), `audience` (its `aud`), or both",
            )


def algorithms_not_empty(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        if not idp.algorithms:
            yield Diagnostic(
                E321,
                f"identity provider '{name}' allows no algorithm: `algorithms` is empty",
                source_map.value(idp_path(name, "algorithms")),
                "list the algorithms its tokens are signed with, e.g. [RS256]",
            )


def algorithm_families(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    """HMAC beside asymmetric algorithms is the algorithm-confusion setup: refuse the mix."""
    for name, idp in config.identity_providers.items():
        hmac, other = families(idp)
        if hmac and other:
            yield Diagnostic(
                E322,
                f"identity provider '{name}' mixes HMAC ({quoted(hmac)}) and asymmetric "
                f"({quoted(other)}) algorithms; one provider verifies with one kind of key",
                source_map.value(idp_path(name, "algorithms")),
                "keep one family, or split the provider in two",
            )


def algorithms_fit_key_source(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        hmac, other = families(idp)
        sources = key_sources(idp)
        if hmac and not other and idp.secret is None and sources:
            yield Diagnostic(
                E323,
                f"identity provider '{name}' allows {quoted(hmac)}, which verifies with a "
                f"shared `secret`, but it has {quoted(sources)} instead",
                source_map.value(idp_path(name, "algorithms")),
                "HS* needs `secret: {env: NAME}`; public keys take RS*, PS*, ES* or EdDSA",
            )
        if other and not hmac and idp.secret is not None:
            yield Diagnostic(
                E324,
                f"identity provider '{name}' has a `secret` but allows {quoted(other)}, "
                "which verify with public keys",
                source_map.key(idp_path(name, "secret")),
                "a shared secret goes with HS256/384/512; public keys come from `jwks_url`, "
                "`jwks` or `discovery`",
            )


def one_key_source(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        sources = key_sources(idp)
        if not sources:
            yield Diagnostic(
                E325,
                f"identity provider '{name}' has no key to verify tokens with",
                source_map.key(idp_path(name)),
                "set one of `jwks_url`, `jwks`, `secret` or `discovery: true`",
            )
        elif len(sources) > 1:
            yield Diagnostic(
                E326,
                f"identity provider '{name}' sets {len(sources)} key sources "
                f"({quoted(sources)}); exactly one is allowed",
                source_map.key(idp_path(name, sources[1])),
                f"keep '{sources[0]}' or '{sources[1]}', not both",
            )


def discovery_needs_issuer(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        if idp.discovery and idp.issuer is None:
            yield Diagnostic(
                E327,
                f"identity provider '{name}' sets `discovery: true` without an `issuer`; "
                "discovery reads <issuer>/.well-known/openid-configuration",
                source_map.key(idp_path(name, "discovery")),
                "set `issuer`, or give the keys with `jwks_url`",
            )


def leeway_bounds(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        if not 0 <= idp.leeway <= MAX_LEEWAY:
            yield Diagnostic(
                E328,
                f"`leeway` of identity provider '{name}' is {idp.leeway} seconds; expected "
                f"0 to {MAX_LEEWAY}",
                source_map.value(idp_path(name, "leeway")),
                "leeway absorbs clock skew; more than five minutes lets expired tokens in",
            )


RULES: tuple[Rule, ...] = (
    issuer_or_audience,
    algorithms_not_empty,
    algorithm_families,
    algorithms_fit_key_source,
    one_key_source,
    discovery_needs_issuer,
    leeway_bounds,
)
