"""Rules on the URLs keys are fetched from: `jwks_url`, and `issuer` under `discovery: true`.

Codes: E330 not an https URL (another scheme, or http to a host that is not loopback);
E331 a user name or password in the URL; E329 a fragment or a credential-like query parameter
(`GET /idps` shows key URLs to anyone); E332 no host; E333 loopback http without
`allow_insecure_http: true`; E334 `allow_insecure_http: true` where no URL is loopback http.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from tokensmith.schema.codes import E329, E330, E331, E332, E333, E334
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import ConfigPath, SourceMap
from tokensmith.schema.models import Config, IdentityProvider

from ._common import Rule, idp_path
from ._urls import (
    credential_in_query,
    has_credential,
    is_loopback_host,
    is_loopback_http,
    split_url,
)

_LOCAL_HINT = "plain http is for tests and local development: loopback hosts only"


def fetched_urls(idp: IdentityProvider) -> list[tuple[str, str]]:
    """(field, url) of every URL the runtime fetches for this provider."""
    urls = []
    if idp.jwks_url is not None:
        urls.append(("jwks_url", idp.jwks_url))
    if idp.discovery and idp.issuer is not None:
        urls.append(("issuer", idp.issuer))
    return urls


def _url_finding(
    name: str, field: str, url: str, idp: IdentityProvider, path: ConfigPath, source_map: SourceMap
) -> Diagnostic | None:
    where = source_map.value(path)
    what = f"`{field}` of identity provider '{name}'"
    parts = split_url(url)
    if parts is None or not parts.scheme:
        return Diagnostic(E330, f"{what} is not an absolute URL", where, "write https://host/path")
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return Diagnostic(E330, f"{what} uses the scheme '{parts.scheme}'; expected https", where)
    if parts.username is not None or parts.password is not None:
        return Diagnostic(
            E331,
            f"{what} holds a user name or password; credentials never go in a key URL",
            where,
            "key sets are public: remove the user information",
        )
    in_query = credential_in_query(parts, url)
    if in_query is not None:
        return Diagnostic(
            E329,
            f"{what} holds {in_query}; credentials never go in a key URL, which `GET /idps` "
            "shows to anyone",
            where,
            "key sets are public: remove it (a fragment is never even sent)",
        )
    if not parts.hostname:
        return Diagnostic(E332, f"{what} has no host", where, "write https://host/path")
    if scheme == "http" and not is_loopback_host(parts.hostname):
        return Diagnostic(
            E330, f"{what} uses http to '{parts.hostname}'; expected https", where, _LOCAL_HINT
        )
    if scheme == "http" and not idp.allow_insecure_http:
        return Diagnostic(
            E333,
            f"{what} uses http to the loopback host '{parts.hostname}' without "
            "`allow_insecure_http: true`",
            where,
            "set `allow_insecure_http: true` for local development, or use https",
        )
    return None


def https_key_urls(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        for field, url in fetched_urls(idp):
            found = _url_finding(name, field, url, idp, idp_path(name, field), source_map)
            if found is not None and has_credential(url):
                # the user information or query may hold a password: the line is not shown
                found = dataclasses.replace(found, secret_at=found.location)
            if found is not None:
                yield found


def insecure_http_only_on_loopback(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        if not idp.allow_insecure_http:
            continue
        if any(is_loopback_http(url) for _, url in fetched_urls(idp)):
            continue
        yield Diagnostic(
            E334,
            f"identity provider '{name}' sets `allow_insecure_http: true` but fetches no "
            "plain http URL on a loopback host",
            source_map.key(idp_path(name, "allow_insecure_http")),
            f"remove it; {_LOCAL_HINT}",
        )


RULES: tuple[Rule, ...] = (https_key_urls, insecure_http_only_on_loopback)
