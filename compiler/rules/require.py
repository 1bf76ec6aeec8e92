"""Rules on `require` conditions of identity providers.

Code: E355 a `require` key that is not a valid JSONPath of the mapping dialect
(`compiler/mappings/paths.py`, the same parser the mapping compiler uses), with the parser's
reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E355
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config

from ..mappings.paths import PathSyntaxError, parse_path
from ._common import Rule, idp_path, shown


def require_paths(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        for key in idp.require or {}:
            try:
                parse_path(key)
            except PathSyntaxError as exc:
                yield Diagnostic(
                    E355,
                    f"`require` key {shown(key)} of identity provider '{name}' is not a valid "
                    f"JSONPath: {exc.reason} (at character {exc.offset + 1})",
                    source_map.key(idp_path(name, "require", key)),
                    "a condition names a claim by path, e.g. `$.email_verified: true`",
                )


RULES: tuple[Rule, ...] = (require_paths,)
