"""Compile a checked config into bundle files: `config.json`, `mappings.py`, `manifest.json`.

The config is written in the runtime's format (`runtime/model.py` documents every field):
defaults filled in, durations in seconds, presets already expanded, secrets still references.
Nothing here reads an environment variable or a secret file. Paths in `mappings.py` comments
are relative to the config's directory, so the same config compiles to the same bytes wherever
it is checked out.
"""

from __future__ import annotations

from typing import Any

from tokensmith.runtime.model import CONFIG_FORMAT
from tokensmith.schema.errors import BuildError
from tokensmith.schema.models import Config, IdentityProvider, SecretRef, TokenProvider

from .bundle_files import canonical_json, with_manifest
from .check import CheckResult
from .mappings import generate_config_module


class CompileError(BuildError):
    """The config did not pass `check`; the bundle is not written."""


def build_bundle(result: CheckResult, *, version: str) -> dict[str, bytes]:
    """The bundle files of a checked config, as tokensmith `version` writes them (the version
    is named in `mappings.py` and the manifest); `CompileError` if `check` found errors."""
    if not result.ok or result.config is None:
        raise CompileError("the config has errors; run `tokensmith check` to see them")
    config, source_map = result.config, result.source_map
    mappings = generate_config_module(
        config, source_map, list(source_map.texts), version, result.loaded.root
    )
    content = {
        "config.json": canonical_json(runtime_config(config)),
        "mappings.py": mappings.encode("utf-8"),
    }
    return with_manifest(content, version=version)


def runtime_config(config: Config) -> dict[str, Any]:
    """The `config.json` document of `config` (format `tokensmith-config/1`)."""
    return {
        "format": CONFIG_FORMAT,
        "issuer": config.issuer,
        "cors": None if config.cors is None else _cors(config),
        "signing_keys": {
            kid: {
                "algorithm": key.algorithm,
                "secret": _secret(key.secret),
                "private_key": _secret(key.private_key),
            }
            for kid, key in config.signing_keys.items()
        },
        "identity_providers": {
            name: _identity_provider(idp) for name, idp in config.identity_providers.items()
        },
        "token_providers": {
            service: _token_provider(service, tp, config.issuer)
            for service, tp in config.token_providers.items()
        },
    }


def _identity_provider(idp: IdentityProvider) -> dict[str, Any]:
    return {
        "issuer": idp.issuer,
        "audience": idp.audience,
        "algorithms": list(idp.algorithms),
        "leeway": idp.leeway,
        "jwks_url": idp.jwks_url,
        "discovery": idp.discovery,
        "allow_insecure_http": idp.allow_insecure_http,
        "jwks": None if idp.jwks is None else {"keys": [dict(k) for k in idp.jwks.keys]},
        "secret": _secret(idp.secret),
        "has_require": bool(idp.require),
        # Kept for read-only listings (`GET /idps`) and `tokensmith diff` of bundles; the
        # runtime executes the generated functions, never these objects.
        "require": idp.require or None,
        "mapping": idp.mapping,
    }


def _token_provider(service: str, tp: TokenProvider, issuer: str) -> dict[str, Any]:
    seconds = tp.expires_in_seconds
    if seconds is None:  # check refuses unparsable durations; this guards the invariant
        raise CompileError(f"token_providers.{service}.expires_in does not parse")
    fields: dict[str, Any] = {
        "signing_key": tp.signing_key,
        "expires_in": seconds,
        "audience": tp.audience if tp.audience is not None else service,
        "issuer": tp.issuer if tp.issuer is not None else issuer,
        "identity_providers": None if tp.identity_providers is None else list(tp.identity_providers),
        "claims": tp.claims,
        "outlive_subject_token": tp.outlive_subject_token,
        "mapping": tp.mapping,
    }
    if tp.require:
        # only when set: a config without service conditions keeps the bytes it always had
        fields["has_require"] = True
        fields["require"] = tp.require
    return fields


def _secret(ref: SecretRef | None) -> dict[str, str] | None:
    return None if ref is None else {ref.kind: ref.reference, "encoding": ref.encoding}



def _cors(config: Config) -> dict[str, Any]:
    """The `cors` object; `allow_headers` only when set, so that a config without it keeps the
    revision it had before the field existed."""
    assert config.cors is not None
    cors: dict[str, Any] = {"allow_origins": list(config.cors.allow_origins)}
    if config.cors.allow_headers:
        cors["allow_headers"] = list(config.cors.allow_headers)
    return cors
