"""Rules on token providers: what they refer to, and how long their tokens live.

Codes: E342 an unknown signing key; E343 an unknown identity provider in `identity_providers`;
E344 an `expires_in` that is not a duration; E345 an `expires_in` of zero or less;
W320 an `expires_in` over 24 hours.

A signing key or identity provider that the schema refused is defined, and has its own finding:
naming it is not reported as unknown (did-you-mean hints still consider it).
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E342, E343, E344, E345, W320
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.durations import parse_duration
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.validate import Refused

from ._common import ReferenceRule, Rule, Suggestions, shown, token_provider_path

MAX_EXPIRES_IN = 24 * 3600


def known_signing_key(
    config: Config, source_map: SourceMap, refused: Refused
) -> Iterator[Diagnostic]:
    names = [*config.signing_keys, *sorted(refused.of("signing_keys"))]
    suggest = Suggestions(names, _defined("signing keys", names))
    for service, provider in config.token_providers.items():
        key = provider.signing_key
        if key not in config.signing_keys and not refused.covers("signing_keys", key):
            yield Diagnostic(
                E342,
                f"token provider '{service}' names the signing key '{provider.signing_key}', "
                "which `signing_keys` does not define",
                source_map.value(token_provider_path(service, "signing_key")),
                suggest.hint(provider.signing_key),
            )


def known_identity_providers(
    config: Config, source_map: SourceMap, refused: Refused
) -> Iterator[Diagnostic]:
    names = [*config.identity_providers, *sorted(refused.of("identity_providers"))]
    suggest = Suggestions(names, _defined("identity providers", names))
    for service, provider in config.token_providers.items():
        for index, name in enumerate(provider.identity_providers or ()):
            if name not in config.identity_providers and not refused.covers(
                "identity_providers", name
            ):
                yield Diagnostic(
                    E343,
                    f"token provider '{service}' allows the identity provider '{name}', "
                    "which `identity_providers` does not define",
                    source_map.value(token_provider_path(service, "identity_providers", index)),
                    suggest.hint(name),
                )


def _defined(what: str, names: list[str]) -> str:
    if not names:
        return f"no {what} are defined"
    shown = ", ".join(sorted(names)[:5])
    return f"defined {what}: {shown}" + (", ..." if len(names) > 5 else "")


def expires_in_range(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for service, provider in config.token_providers.items():
        value = provider.expires_in
        where = source_map.value(token_provider_path(service, "expires_in"))
        seconds = parse_duration(value)
        if (isinstance(value, int) and value < 0) or seconds == 0:
            yield Diagnostic(
                E345,
                f"`expires_in` of token provider '{service}' is {value}; a token must live "
                "for at least one second",
                where,
            )
        elif seconds is None:
            written = shown(value) if isinstance(value, str) else shown(str(value))[1:-1]
            yield Diagnostic(
                E344,
                f"`expires_in` of token provider '{service}' is {written}, which is not a duration",
                where,
                "write digits and one unit: 90s, 30m, 1h, 1d, or whole seconds",
            )
        elif seconds > MAX_EXPIRES_IN:
            yield Diagnostic(
                W320,
                f"`expires_in` of token provider '{service}' is {value} ({seconds} s), over "
                "24 hours; a leaked token stays valid that long",
                where,
                "issued tokens are meant to be short-lived: prefer minutes to hours",
            )


RULES: tuple[Rule, ...] = (expires_in_range,)
REFERENCE_RULES: tuple[ReferenceRule, ...] = (known_signing_key, known_identity_providers)
