"""Semantic checks of a validated config: one small rule per code, grouped by config section.

`run_rules(config, source_map)` runs every rule and, when the mapping compiler provides it,
`compiler.mappings.checks.check_config_mappings`. Every rule is linear in the size of the
config: rules that relate providers index them by issuer and audience instead of comparing
pairs. `docs/diagnostics.md` lists every code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config

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
from ._common import Rule

RULES: tuple[Rule, ...] = (
    *names.RULES,
    *signing_keys.RULES,
    *identity_providers.RULES,
    *key_urls.RULES,
    *inline_jwks.RULES,
    *require.RULES,
    *issuers.RULES,
    *token_providers.RULES,
    *cors.RULES,
    *tests_section.RULES,
)

_MAPPING_CHECKS = "tokensmith.compiler.mappings.checks"

MappingChecks = Callable[[Config, SourceMap], list[Diagnostic]]


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


def run_rules(config: Config, source_map: SourceMap) -> list[Diagnostic]:
    """Every finding of the semantic rules and mapping checks, in rule order (not sorted)."""
    found: list[Diagnostic] = []
    for rule in RULES:
        found.extend(rule(config, source_map))
    mapping_checks = _mapping_checks()
    if mapping_checks is not None:
        found.extend(mapping_checks(config, source_map))
    return found
