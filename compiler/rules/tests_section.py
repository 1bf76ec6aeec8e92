"""Rules on the `tests:` cases of a config (run by `tokensmith test`).

Codes: E360 a case naming an unknown service; E361 a case expecting an unknown identity
provider; E362 an `expect` with both `claims` and `claims_subset`; E363 an `expect` that
checks nothing; E364 an `expect` with an `error` and an outcome of success; E365 a case
expecting an identity provider that the service's `identity_providers` allow-list leaves out;
E366 a case name with a control character (names are printed in CI logs).
A service or identity provider that the schema refused is not reported as unknown.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from tokensmith.schema.codes import E360, E361, E362, E363, E364, E365, E366
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config, Expectation
from tokensmith.schema.validate import Refused

from ._common import ReferenceRule, Rule, Suggestions


def known_names(
    config: Config, source_map: SourceMap, refused: Refused
) -> Iterator[Diagnostic]:
    services = Suggestions([*config.token_providers, *sorted(refused.of("token_providers"))], None)
    providers = Suggestions(
        [*config.identity_providers, *sorted(refused.of("identity_providers"))], None
    )
    for index, case in enumerate(config.tests):
        service = case.service
        if service not in config.token_providers and not refused.covers("token_providers", service):
            yield Diagnostic(
                E360,
                f"test '{case.name}' exchanges for the service '{case.service}', which "
                "`token_providers` does not define",
                source_map.value(("tests", index, "service")),
                services.hint(case.service),
            )
        expected = case.expect.identity_provider
        if (
            expected is not None
            and expected not in config.identity_providers
            and not refused.covers("identity_providers", expected)
        ):
            yield Diagnostic(
                E361,
                f"test '{case.name}' expects the identity provider '{expected}', which "
                "`identity_providers` does not define",
                source_map.value(("tests", index, "expect", "identity_provider")),
                providers.hint(expected),
            )


def allowed_expected_provider(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    """A case that expects a provider its service does not accept can never pass."""
    for index, case in enumerate(config.tests):
        expected = case.expect.identity_provider
        service = config.token_providers.get(case.service)
        if expected is None or service is None or service.identity_providers is None:
            continue
        if expected in config.identity_providers and expected not in service.identity_providers:
            yield Diagnostic(
                E365,
                f"test '{case.name}' expects the identity provider '{expected}', which the "
                f"service '{case.service}' does not accept (its `identity_providers` leave it "
                "out), so the exchange can only fail",
                source_map.value(("tests", index, "expect", "identity_provider")),
                "add it to the service's `identity_providers`, or expect `error: invalid_target`",
            )


def _success_fields(expect: Expectation) -> list[str]:
    fields = ("identity_provider", "claims", "claims_subset")
    return [field for field in fields if getattr(expect, field) is not None]


def expectations(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for index, case in enumerate(config.tests):
        expect, path = case.expect, ("tests", index, "expect")
        if expect.claims is not None and expect.claims_subset is not None:
            yield Diagnostic(
                E362,
                f"test '{case.name}' expects both `claims` (all claims) and `claims_subset`",
                source_map.key((*path, "claims_subset")),
                "keep `claims` to compare every claim, or `claims_subset` for some of them",
            )
        success = _success_fields(expect)
        if expect.error is None and not success:
            yield Diagnostic(
                E363,
                f"the `expect` of test '{case.name}' checks nothing",
                source_map.key(path),
                "expect `claims`, `claims_subset` or `identity_provider`, or an `error`",
            )
        elif expect.error is not None and success:
            yield Diagnostic(
                E364,
                f"test '{case.name}' expects the error '{expect.error}' and also "
                f"`{success[0]}`, which only a successful exchange has",
                source_map.key((*path, success[0])),
            )


def control_character(text: str) -> str | None:
    """The first character of `text` that is a control, format, line or paragraph separator
    (or unassigned), spelled `U+000A`; None when every character prints as itself."""
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def printable_names(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    """Names are printed in CI logs: a line break there could start a workflow command."""
    for index, case in enumerate(config.tests):
        found = control_character(case.name)
        if found is not None:
            yield Diagnostic(
                E366,
                f"the name of test {index + 1} holds the control character {found}",
                source_map.value(("tests", index, "name")),
                "names are printed in CI logs: keep each on one line of printable characters",
            )


RULES: tuple[Rule, ...] = (allowed_expected_provider, expectations, printable_names)
REFERENCE_RULES: tuple[ReferenceRule, ...] = (known_names,)
