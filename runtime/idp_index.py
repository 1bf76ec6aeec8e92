"""Which identity provider a token comes from: byte-exact `iss` and `aud`, in constant time.

Three dicts, built once per bundle:
- `by_pair[(issuer, audience)]` for providers with both,
- `by_issuer[issuer]` for providers with an issuer only,
- `by_audience[audience]` for providers with an audience only.
A token with issuer `i` and audiences `a1..ak` (k <= `MAX_AUDIENCES`) costs at most `1 + 2k`
lookups whatever the number of providers. Strings are compared as Python strings, which is
byte-exact on their UTF-8 form: no case folding, no Unicode normalisation, no trailing-slash
tolerance.

A provider with an issuer matches only tokens whose `iss` is present and equal; a provider with an
audience matches only tokens listing it in `aud`. A token matching no provider is untrusted; one
matching several (an `aud` list naming two providers, or an issuer-only provider next to an
(issuer, audience) provider of the same issuer) is refused as ambiguous: we never pick one.

A token whose `iss` is one of tokensmith's own issuers (`own_issuers`: the top-level issuer and
every token provider's) matches no provider at all. Every token tokensmith signs carries such an
`iss`, so an issued token can never be exchanged again, not even through an audience-only
provider whose keys happen to be tokensmith's own (the compiler's E353 sees only issuers, and
an inline `jwks` or a `jwks_url` may name tokensmith's public keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .claims import read_audiences, read_issuer
from .errors import BundleError, InvalidRequest
from .model import IdentityProviderSpec, RuntimeConfig

UNTRUSTED = "token issuer or audience is not trusted"


@dataclass(frozen=True)
class IdentityProviderIndex:
    """Provider names by their (issuer, audience), issuer-only and audience-only keys."""

    by_pair: Mapping[tuple[str, str], str]
    by_issuer: Mapping[str, str]
    by_audience: Mapping[str, str]
    own_issuers: frozenset[str] = frozenset()


def build_index(
    providers: Mapping[str, IdentityProviderSpec], own_issuers: Iterable[str] = ()
) -> IdentityProviderIndex:
    """Index `providers`; a `BundleError` names two providers that claim the same key.

    Such a pair could never be told apart at run time; the compiler refuses it too, this guards
    a bundle written by something else. `own_issuers` are the issuers of tokensmith's own tokens
    (`own_issuers_of(config)`): tokens claiming them match no provider.
    """
    by_pair: dict[tuple[str, str], str] = {}
    by_issuer: dict[str, str] = {}
    by_audience: dict[str, str] = {}
    for name in sorted(providers):
        spec = providers[name]
        if spec.issuer is not None and spec.audience is not None:
            _put(by_pair, (spec.issuer, spec.audience), name)
        elif spec.issuer is not None:
            _put(by_issuer, spec.issuer, name)
        elif spec.audience is not None:
            _put(by_audience, spec.audience, name)
        else:
            raise BundleError(f"identity provider {name!r} has neither issuer nor audience")
    return IdentityProviderIndex(
        MappingProxyType(by_pair),
        MappingProxyType(by_issuer),
        MappingProxyType(by_audience),
        frozenset(own_issuers),
    )


def index_of(config: RuntimeConfig) -> IdentityProviderIndex:
    """The index the runtime uses for `config`: its providers, and its own issuers refused."""
    return build_index(config.identity_providers, own_issuers_of(config))


def own_issuers_of(config: RuntimeConfig) -> frozenset[str]:
    """The `iss` values of the tokens tokensmith issues: the top-level and every service's."""
    return frozenset({config.issuer, *(tp.issuer for tp in config.token_providers.values())})


def _put(table: dict[Any, str], key: Any, name: str) -> None:
    if key in table:
        raise BundleError(
            f"identity providers {table[key]!r} and {name!r} match the same issuer and audience"
        )
    table[key] = name


def candidates(index: IdentityProviderIndex, claims: Mapping[str, Any]) -> frozenset[str]:
    """Names of every provider the token's `iss` and `aud` match (malformed ones are refused).

    None for a token claiming one of tokensmith's own issuers (see the module docstring).
    """
    issuer = read_issuer(claims)
    audiences = read_audiences(claims)
    if issuer is not None and issuer in index.own_issuers:
        return frozenset()  # one of our own tokens, posted back: never a subject token
    found: set[str] = set()
    if issuer is not None:
        _add(found, index.by_issuer.get(issuer))
        for audience in audiences:
            _add(found, index.by_pair.get((issuer, audience)))
    for audience in audiences:
        _add(found, index.by_audience.get(audience))
    return frozenset(found)


def _add(found: set[str], name: str | None) -> None:
    if name is not None:
        found.add(name)


def match_identity_provider(index: IdentityProviderIndex, claims: Mapping[str, Any]) -> str:
    """The one provider the token's `iss`/`aud` match; `InvalidRequest` for none or several.

    The lookups of `candidates`, in the same order, without building its sets: every exchange
    runs this (twice under a shadow), and a test holds the two to the same answers.
    """
    issuer = read_issuer(claims)
    audiences = read_audiences(claims)
    found: str | None = None
    ambiguous = False
    if issuer is not None:
        if issuer in index.own_issuers:
            raise InvalidRequest(UNTRUSTED, "untrusted_issuer")  # one of our own tokens
        found = index.by_issuer.get(issuer)
        by_pair = index.by_pair
        for audience in audiences:
            name = by_pair.get((issuer, audience))
            if name is not None and name != found:
                ambiguous, found = ambiguous or found is not None, name
    by_audience = index.by_audience
    for audience in audiences:
        name = by_audience.get(audience)
        if name is not None and name != found:
            ambiguous, found = ambiguous or found is not None, name
    if ambiguous:
        raise InvalidRequest(UNTRUSTED, "ambiguous")
    if found is None:
        raise InvalidRequest(UNTRUSTED, "untrusted_issuer")
    return found


def provider_matches(
    spec: IdentityProviderSpec, issuer: str | None, audiences: tuple[str, ...]
) -> bool:
    """Whether one provider alone accepts this `iss` and `aud` (for `explain`, and as the
    reference the index is tested against)."""
    if spec.issuer is None and spec.audience is None:
        return False
    if spec.issuer is not None and issuer != spec.issuer:
        return False
    return spec.audience is None or spec.audience in audiences
