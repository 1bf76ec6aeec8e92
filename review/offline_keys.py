"""The keys of an identity provider that are at hand offline, for `explain --verify`.

Inline `jwks` are used as written and a `secret` is resolved from this machine's environment or
file (never shown: it is named by its reference); keys behind a URL are not fetched.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokensmith.runtime.jwk import parse_inline_jwks
from tokensmith.runtime.keys import KeySource
from tokensmith.runtime.model import IdentityProviderSpec
from tokensmith.runtime.secrets import SecretError, resolve_secret
from tokensmith.runtime.static_keys import StaticKeySource
from tokensmith.runtime.vault import VAULT_KEY_ENV, VaultError, parse_key
from tokensmith.runtime.verification_keys import HmacKey, KeyMaterialError


def offline_key_source(spec: IdentityProviderSpec, root: str) -> tuple[KeySource | None, str]:
    """The provider's keys when they are at hand offline (with what they are), else None and
    why not; a relative secret file is read from the config's directory `root`."""
    if spec.uses_remote_keys:
        where = spec.jwks_url or f"{spec.issuer}/.well-known/openid-configuration"
        return None, f"not checked offline: the keys are fetched from {where}"
    if spec.jwks is not None:
        result = parse_inline_jwks(spec.jwks, spec.algorithms)
        return StaticKeySource(result.keys), "the inline jwks"
    if spec.secret is None:
        return None, "no key source"
    try:
        vault_text = os.environ.get(VAULT_KEY_ENV)
        vault_key = None if vault_text is None else parse_key(vault_text)
        secret = resolve_secret(spec.secret, os.environ, vault_key, base_dir=Path(root))
        key = HmacKey(None, secret, spec.algorithms)
    except (SecretError, VaultError, KeyMaterialError) as exc:
        return None, f"not checked: {exc}"
    return StaticKeySource([key]), f"the secret {spec.secret.describe()}"
