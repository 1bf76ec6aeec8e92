"""`tokensmith check` as a function: load -> expand presets -> validate -> run the rules.

Each stage runs only when the one before found no error: a YAML syntax error is not followed by
schema findings about the half-read data, and rules only ever see a valid `Config`. Findings are
sorted by file and position, duplicates removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tokensmith.schema._gc import gc_paused
from tokensmith.schema.diagnostics import Diagnostic, sorted_diagnostics
from tokensmith.schema.loader import LoadedSource, load_config_source
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.presets import expand_presets
from tokensmith.schema.validate import validate

from .rules import run_rules

RuleRunner = Callable[[Config, SourceMap], Iterable[Diagnostic]]


@dataclass(frozen=True)
class CheckResult:
    """What `check` learnt about a config.

    `config` is None when loading or validation failed. `source_map` locates every value of the
    checked data (after preset expansion); `loaded` is the raw load result.
    """

    config: Config | None
    source_map: SourceMap
    loaded: LoadedSource
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)

    @property
    def ok(self) -> bool:
        """True when there is a valid config and no error (warnings allowed)."""
        return self.config is not None and not self.errors


def check_path(path: str) -> CheckResult:
    """Check the config file or directory at `path`.

    Raises `tokensmith.schema.loader.ConfigReadError` when the path cannot be read at all.
    """
    with gc_paused():
        return check_loaded(load_config_source(path))


def check_loaded(loaded: LoadedSource, rules: RuleRunner | None = None) -> CheckResult:
    """Check an already loaded config; `rules` defaults to every rule of `compiler.rules`."""
    found = list(loaded.diagnostics)
    if not loaded.ok:
        return CheckResult(None, loaded.source_map, loaded, tuple(sorted_diagnostics(found)))
    data, source_map, preset_findings = expand_presets(loaded.data, loaded.source_map)
    found.extend(preset_findings)
    config: Config | None = None
    if not any(d.is_error for d in preset_findings):
        expanded = dataclasses.replace(loaded, data=data, source_map=source_map)
        config, schema_findings = validate(expanded)
        found.extend(schema_findings)
    if config is not None:
        found.extend((rules or run_rules)(config, source_map))
    return CheckResult(config, source_map, loaded, tuple(sorted_diagnostics(found)))
