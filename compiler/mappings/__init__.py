"""The mapping compiler: checks, lowering to a small IR, and jinja2 code generation.

Semantics: `docs/mappings.md`. The bundle writer calls `lower_config` and `generate_module`
(or `generate_config_module`, both at once); `check` calls `checks.check_config_mappings`;
`explain` uses `interpreter`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from tokensmith.schema.location import ConfigPath, SourceMap
from tokensmith.schema.models import Config

from .codegen import generate_module
from .ir import LoweredMapping, LoweredRequire, Origin
from .lower import MappingError, lower_mapping, lower_require

__all__ = [
    "LoweredConfig",
    "LoweredMapping",
    "LoweredRequire",
    "MappingError",
    "Origin",
    "generate_config_module",
    "generate_module",
    "lower_config",
    "lower_mapping",
    "lower_require",
]


@dataclass(frozen=True)
class LoweredConfig:
    """Every mapping of a config, lowered. The requirements hold only providers that have a
    non-empty `require` (so `has_require` in config.json is `name in idp_requirements`, and
    likewise for services)."""

    idp_mappings: Mapping[str, LoweredMapping]
    idp_requirements: Mapping[str, LoweredRequire]
    tp_mappings: Mapping[str, LoweredMapping]
    tp_requirements: Mapping[str, LoweredRequire]


def lower_config(config: Config, source_map: SourceMap, root: str | None = None) -> LoweredConfig:
    """Lower every mapping and `require` table of a config that passed the checks.

    Origins name the line of the `mapping:` / `require:` key (or of the provider when the
    mapping is left out; of the item for a part of `require` that gets a function of its own) and its file relative to `root` (as written when `root` is None).
    Raises `MappingError` for a mapping that does not pass the checks.
    """
    idps: dict[str, LoweredMapping] = {}
    requirements: dict[str, LoweredRequire] = {}
    tps: dict[str, LoweredMapping] = {}
    tp_requirements: dict[str, LoweredRequire] = {}
    for name in sorted(config.identity_providers):
        idp = config.identity_providers[name]
        base: ConfigPath = ("identity_providers", name)
        idps[name] = lower_mapping(idp.mapping, _origin(source_map, (*base, "mapping"), root))
        if idp.require:
            requirements[name] = _require(idp.require, (*base, "require"), source_map, root)
    for service in sorted(config.token_providers):
        tp = config.token_providers[service]
        base = ("token_providers", service)
        tps[service] = lower_mapping(tp.mapping, _origin(source_map, (*base, "mapping"), root))
        if tp.require:
            tp_requirements[service] = _require(tp.require, (*base, "require"), source_map, root)
    return LoweredConfig(
        MappingProxyType(idps), MappingProxyType(requirements), MappingProxyType(tps),
        MappingProxyType(tp_requirements),
    )


def _require(
    require: object, path: ConfigPath, source_map: SourceMap, root: str | None
) -> LoweredRequire:
    def locate(at: ConfigPath) -> Origin:
        return _origin(source_map, (*path, *at), root)

    return lower_require(require, locate(()), locate)


def generate_config_module(
    config: Config,
    source_map: SourceMap,
    sources: Sequence[str],
    version: str,
    root: str | None = None,
) -> str:
    """`lower_config` then `generate_module`: the text of a bundle's `mappings.py`.

    `sources` are the config files as loaded; like origins, they are written relative to `root`.
    """
    lowered = lower_config(config, source_map, root)
    files = [_relative(file, root) for file in sources]
    return generate_module(
        lowered.idp_mappings, lowered.idp_requirements, lowered.tp_mappings, files, version,
        lowered.tp_requirements,
    )


def _origin(source_map: SourceMap, path: ConfigPath, root: str | None) -> Origin:
    location = source_map.key(path)
    return Origin(_relative(location.file, root), location.line)


def _relative(file: str, root: str | None) -> str:
    if root is not None:
        file = os.path.relpath(file, root)
    return file.replace(os.sep, "/")
