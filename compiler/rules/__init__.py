"""Semantic checks of a validated config: one small rule per code, grouped by config section.

`run_rules(config, source_map, refused)` runs every rule and, when the mapping compiler provides
it, `compiler.mappings.checks.check_config_mappings`. Every rule is linear in the size of the
config: rules that relate providers index them by issuer and audience instead of comparing
pairs. `docs/diagnostics.md` lists every code.

The config the rules see holds the parts that fit the schema; `refused` names those that did not
(`schema.validate.Refused`). Most rules judge one part at a time and never meet a refused one.
The rules that relate a part to another (`REFERENCE_RULES`: a token provider's signing key and
identity providers, a test's service, tokensmith's own issuer) and the mapping checks also take
`refused`, so that a reference to a refused part is not reported as unknown.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.validate import NOTHING_REFUSED, Refused

from . import (
    cors,
    identity_providers,
    inline_jwks,
    issuers,
    key_urls,
    names,
    require,
    signing_keys,
    tests_section,
    token_providers,
)
from ._common import ReferenceRule, Rule

RULES: tuple[Rule, ...] = (
    *names.RULES,
    *signing_keys.RULES,
    *identity_providers.RULES,
    *key_urls.RULES,
    *inline_jwks.RULES,
    *issuers.RULES,
    *token_providers.RULES,
    *cors.RULES,
    *tests_section.RULES,
)

REFERENCE_RULES: tuple[ReferenceRule, ...] = (
    *issuers.REFERENCE_RULES,
    *require.REFERENCE_RULES,
    *token_providers.REFERENCE_RULES,
    *tests_section.REFERENCE_RULES,
)

_MAPPING_CHECKS = "tokensmith.compiler.mappings.checks"

MappingChecks = Callable[[Config, SourceMap, Refused], list[Diagnostic]]


def _mapping_checks() -> MappingChecks | None:
    """The mapping compiler's checks, or None while that module does not exist yet.

    Only the absence of that exact module is tolerated: an import error inside it must surface.
    """
    try:
        module = importlib.import_module(_MAPPING_CHECKS)
    except ModuleNotFoundError as exc:
        if exc.name != _MAPPING_CHECKS:
            raise
        return None
    checks: MappingChecks = module.check_config_mappings
    return checks


def run_rules(
    config: Config, source_map: SourceMap, refused: Refused = NOTHING_REFUSED
) -> list[Diagnostic]:
    """Every finding of the semantic rules and mapping checks, in rule order (not sorted)."""
    found: list[Diagnostic] = []
    for rule in RULES:
        found.extend(rule(config, source_map))
    for reference_rule in REFERENCE_RULES:
        found.extend(reference_rule(config, source_map, refused))
    mapping_checks = _mapping_checks()
    if mapping_checks is not None:
        found.extend(mapping_checks(config, source_map, refused))
    return found
