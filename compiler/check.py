"""`tokensmith check` as a function: load -> expand presets -> validate -> run the rules.

Every finding is reported in one run: a mistake in one part of a config never hides one in
another. Only a file that cannot be read or parsed stops the run (the data would be partial, and
every name defined in that file would look undefined). Presets and the schema judge each
identity provider, signing key, token provider and test on its own (`schema.validate`); the
rules then run on the parts that fit, and say nothing about the parts that did not, nor about
references to them. Findings are sorted by file and position, duplicates removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tokensmith.schema._gc import gc_paused
from tokensmith.schema.diagnostics import Diagnostic, sorted_diagnostics
from tokensmith.schema.loader import LoadedSource, load_config_source
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.presets import expand_presets
from tokensmith.schema.validate import validate_parts

from .rules import run_rules

RuleRunner = Callable[[Config, SourceMap], Iterable[Diagnostic]]


@dataclass(frozen=True)
class CheckResult:
    """What `check` learnt about a config.

    `config` is None when loading, a preset or the schema found an error (nothing is compiled
    from part of a config). `source_map` locates every value of the checked data (after preset
    expansion); `loaded` is the raw load result.
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
    """Check an already loaded config; `rules` defaults to every rule of `compiler.rules`, run
    on the parts of the config that fit the schema."""
    found = list(loaded.diagnostics)
    if not loaded.complete:
        return CheckResult(None, loaded.source_map, loaded, tuple(sorted_diagnostics(found)))
    data, source_map, preset_findings, preset_refused = expand_presets(
        loaded.data, loaded.source_map
    )
    found.extend(preset_findings)
    parts = validate_parts(data, source_map, preset_refused)
    found.extend(parts.diagnostics)
    if rules is None:
        found.extend(run_rules(parts.usable, parts.source_map, parts.refused))
    else:
        found.extend(rules(parts.usable, parts.source_map))
    config = parts.config if loaded.ok else None
    return CheckResult(config, source_map, loaded, tuple(sorted_diagnostics(found)))
