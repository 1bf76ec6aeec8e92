"""OpenID Connect discovery of an identity provider's `jwks_uri` (OIDC Discovery 1.0 §4).

The configuration document is fetched under the same rules as a JWKS (https, total deadline,
size cap, no redirects, strict JSON). Its `issuer` must equal the configured issuer byte for byte
(§4.3: otherwise anyone who can serve that path could point us at their own keys), and its
`jwks_uri` must pass the same URL rules as a configured `jwks_url`.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ._jwks_http import FetchError, Limits, check_url, fetch_json

WELL_KNOWN = "/.well-known/openid-configuration"


def configuration_url(issuer: str) -> str:
    """`<issuer>/.well-known/openid-configuration`, without doubling a trailing slash (§4)."""
    return issuer.rstrip("/") + WELL_KNOWN


async def discover_jwks_uri(client: httpx.AsyncClient, issuer: str, limits: Limits) -> str:
    """The `jwks_uri` published for `issuer`; `FetchError` with a `discovery_*` kind otherwise."""
    url = configuration_url(issuer)
    try:
        fetched = await fetch_json(client, url, limits)
    except FetchError as exc:
        raise FetchError(f"discovery_{exc.kind}", str(exc), exc.retry_after) from None
    document = fetched.document
    if not isinstance(document, Mapping):
        raise FetchError("discovery_document", f"{url}: not a JSON object")
    if document.get("issuer") != issuer:
        raise FetchError("discovery_issuer", f"{url}: issuer differs from the configured one")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError("discovery_document", f"{url}: no jwks_uri string")
    try:
        check_url(jwks_uri, limits.allow_insecure_http)
    except FetchError:
        # The document's text, shortened and quoted: it goes to the operator's log as is.
        raise FetchError("discovery_insecure_url", f"{url}: jwks_uri {jwks_uri[:200]!r}") from None
    return jwks_uri
