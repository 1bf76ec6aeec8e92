"""What every rule module shares: the rule signature, paths, and naming the other place."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from tokensmith.schema.diagnostics import Diagnostic, did_you_mean
from tokensmith.schema.location import ConfigPath, SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.validate import Refused

#: A rule reads the validated config and the source map and yields its findings.
Rule = Callable[[Config, SourceMap], Iterable[Diagnostic]]
#: A rule that relates one part of the config to another also reads what the schema refused,
#: so that it never reports a reference to a refused part as unknown.
ReferenceRule = Callable[[Config, SourceMap, Refused], Iterable[Diagnostic]]

#: Service names become URL path segments and metric labels.
SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: Identity provider and signing key names appear in logs, metrics, `kid` headers and generated
#: code comments: the service alphabet plus `.`, which key ids often use (`sbk_main.2024`).
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def idp_path(name: str, *rest: str | int) -> ConfigPath:
    return ("identity_providers", name, *rest)


def token_provider_path(name: str, *rest: str | int) -> ConfigPath:
    return ("token_providers", name, *rest)


def signing_key_path(name: str, *rest: str | int) -> ConfigPath:
    return ("signing_keys", name, *rest)


def place(source_map: SourceMap, path: ConfigPath) -> str:
    """`file:line:col` of the key at `path`, for a message that names a second place."""
    return str(source_map.key(path))


def shown(text: str) -> str:
    """`text` quoted for a message: repr() shows control characters and odd spaces that would
    hide in a plain quote, and a long text is shortened (a message is one line)."""
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


class Suggestions:
    """Did-you-mean hints for unknown names, memoised and with a budget.

    `did_you_mean` compares against every candidate; a config where hundreds of references
    miss among thousands of names would make `check` quadratic. Repeated names are answered
    from the memo; after `budget` distinct lookups, hints fall back to `fallback` alone.
    """

    def __init__(self, candidates: Iterable[str], fallback: str | None, budget: int = 64) -> None:
        self._candidates = list(candidates)
        self._fallback = fallback
        self._budget = budget
        self._memo: dict[str, str | None] = {}

    def hint(self, name: str) -> str | None:
        if name not in self._memo:
            if self._budget <= 0:
                return self._fallback
            self._budget -= 1
            self._memo[name] = did_you_mean(name, self._candidates) or self._fallback
        return self._memo[name]
