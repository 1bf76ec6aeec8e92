"""A compiled bundle read for review, without running any of it.

`tokensmith diff` runs on pull requests, so a side may come from someone who should not get
code run on a reviewer's machine or in CI. A bundle's `mappings.py` is Python: loading it the
way `serve` does would execute it. Here only `config.json` is read, as data; the `mapping` and
`require` objects it keeps beside the compiled code are checked by the compiler's lowering and
then evaluated by the reference interpreter (the semantics the generated code is tested
against). `manifest.json` and `mappings.py` are never opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from tokensmith.compiler.mappings.interpreter import apply_mapping, evaluate_require
from tokensmith.compiler.mappings.ir import Origin
from tokensmith.compiler.mappings.lower import MappingError, lower_mapping, lower_require
from tokensmith.runtime.bundle import SIZE_LIMITS, Bundle
from tokensmith.runtime.errors import BundleError
from tokensmith.runtime.model import parse_config

CONFIG_FILE = "config.json"

MappingFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
RequirementFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


def read_bundle_config(directory: str) -> tuple[Bundle, dict[str, Any]]:
    """The bundle in `directory` as data: a `Bundle` whose functions interpret the mappings
    kept in `config.json`, and the decoded `config.json`. Raises `BundleError` or `OSError`."""
    data = _read_config(directory)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BundleError(f"{directory}/{CONFIG_FILE}: not valid JSON") from None
    config = parse_config(raw)
    origin = f"{directory}/{CONFIG_FILE}"
    idps, tps = raw.get("identity_providers", {}), raw.get("token_providers", {})
    idp_maps = {n: _mapping(_kept(idps, n, "mapping", origin), origin) for n in config.identity_providers}
    requirements = {
        n: _requirement(_kept(idps, n, "require", origin), origin)
        for n, spec in config.identity_providers.items() if spec.has_require
    }
    tp_maps = {s: _mapping(_kept(tps, s, "mapping", origin), origin) for s in config.token_providers}
    bundle = Bundle(
        path=directory,
        # Not the manifest's revision (the manifest is not read): the hash of what was read.
        revision=hashlib.sha256(data).hexdigest(),
        compiler="",
        config=config,
        idp_mappings=MappingProxyType(idp_maps),
        idp_requirements=MappingProxyType(requirements),
        tp_mappings=MappingProxyType(tp_maps),
    )
    return bundle, raw


def _read_config(directory: str) -> bytes:
    """`config.json`, a regular file under the bundle's size limit (never through a link)."""
    full = os.path.join(directory, CONFIG_FILE)
    if not os.path.isdir(directory):
        raise BundleError(f"{directory}: not a bundle directory")
    limit = SIZE_LIMITS[CONFIG_FILE]
    fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise BundleError(f"{full}: not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise BundleError(f"{full}: over the size limit of {limit} bytes")
    return data


def _kept(section: Any, name: str, field: str, origin: str) -> Any:
    entry = section.get(name) if isinstance(section, dict) else None
    if not isinstance(entry, dict) or field not in entry:
        raise BundleError(f"{origin}: {name} keeps no `{field}` (a bundle from an older "
                          "tokensmith); diff its config instead")
    return entry[field]


def _mapping(mapping: Any, origin: str) -> MappingFunction:
    try:
        lower_mapping(mapping, Origin(origin, 0))  # refuses what the compiler would not compile
    except MappingError as exc:
        raise BundleError(f"{origin}: {exc}") from None
    return lambda claims, context: apply_mapping(mapping, claims, context)


def _requirement(require: Any, origin: str) -> RequirementFunction:
    try:
        lower_require(require, Origin(origin, 0))
    except MappingError as exc:
        raise BundleError(f"{origin}: {exc}") from None
    return lambda claims, context: all(v.holds for v in evaluate_require(require, claims, context))
