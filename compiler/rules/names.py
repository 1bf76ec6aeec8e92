"""Rules on names: services, identity providers and signing keys.

Codes: E340 a service name outside `^[A-Za-z0-9_-]{1,128}$` (it is a path segment of the
`audience` URL); E341 an identity provider or signing key name outside
`^[A-Za-z0-9_.-]{1,128}$` (they appear in logs, metrics, `kid` headers and generated code).
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E340, E341
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config

from ._common import SAFE_NAME, SERVICE_NAME, Rule, shown


def service_names(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name in config.token_providers:
        if SERVICE_NAME.fullmatch(name) is None:
            yield Diagnostic(
                E340,
                f"service name {shown(name)} is not 1 to 128 letters, digits, '_' or '-'",
                source_map.key(("token_providers", name)),
                "the service name is the last path segment of the exchange `audience`",
            )


def provider_and_key_names(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    sections = (
        ("identity_providers", "identity provider", config.identity_providers),
        ("signing_keys", "signing key", config.signing_keys),
    )
    for section, what, table in sections:
        for name in table:
            if SAFE_NAME.fullmatch(name) is None:
                yield Diagnostic(
                    E341,
                    f"{what} name {shown(name)} is not 1 to 128 letters, digits, '_', '.' or '-'",
                    source_map.key((section, name)),
                )


RULES: tuple[Rule, ...] = (service_names, provider_and_key_names)
