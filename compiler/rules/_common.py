"""What every rule module shares: the rule signature, paths, and naming the other place."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import ConfigPath, SourceMap
from tokensmith.schema.models import Config

#: A rule reads the validated config and the source map and yields its findings.
Rule = Callable[[Config, SourceMap], Iterable[Diagnostic]]

#: Service names become URL path segments and metric labels (SPEC §2).
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


def quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
