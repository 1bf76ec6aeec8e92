"""The vault: secrets sealed with AES-256-GCM so that they can live in git.

A vault key is `tsvk1_` + base64url(32 random bytes); it is given to the runtime in
`TOKENSMITH_VAULT_KEY` and never stored with the config. A sealed value is
`tsv1:` + base64url(12-byte nonce || ciphertext || 16-byte tag), authenticated with the
associated data `tokensmith-vault/1`, so a value sealed by another tool or altered by one bit
does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .b64 import Base64Error, b64url_decode, b64url_encode
from .errors import BundleError

KEY_PREFIX = "tsvk1_"
SEALED_PREFIX = "tsv1:"
VAULT_KEY_ENV = "TOKENSMITH_VAULT_KEY"
_AAD = b"tokensmith-vault/1"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class VaultError(BundleError, ValueError):
    """A vault key or sealed value is unusable. The message never contains either."""


def keygen() -> str:
    """A new random vault key, printable."""
    return KEY_PREFIX + b64url_encode(os.urandom(32))


def parse_key(text: str) -> bytes:
    """The 32 key bytes of a printable vault key; `VaultError` when it is not one."""
    text = text.strip()
    if not text.startswith(KEY_PREFIX):
        raise VaultError(f"the vault key is not a tokensmith vault key (expected {KEY_PREFIX}...)")
    try:
        key = b64url_decode(text[len(KEY_PREFIX) :])
    except Base64Error:
        key = b""
    if len(key) != 32:
        raise VaultError("the vault key is damaged (expected 32 bytes of base64url)")
    return key


def seal(key: str | bytes, plaintext: bytes) -> str:
    """`plaintext` sealed under the vault key, as a printable `tsv1:` value."""
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(_key_bytes(key)).encrypt(nonce, plaintext, _AAD)
    return SEALED_PREFIX + b64url_encode(nonce + ciphertext)


def open_sealed(key: str | bytes, text: str) -> bytes:
    """The plaintext of a sealed value; `VaultError` for a wrong key or an altered value."""
    if not text.startswith(SEALED_PREFIX):
        raise VaultError(
            f"the encrypted value is not a tokensmith vault value ({SEALED_PREFIX}...)"
        )
    try:
        blob = b64url_decode(text[len(SEALED_PREFIX) :])
    except Base64Error:
        raise VaultError("the encrypted value is damaged (not base64url)") from None
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise VaultError("the encrypted value is damaged (too short)")
    try:
        return AESGCM(_key_bytes(key)).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD)
    except InvalidTag:
        raise VaultError(
            "the encrypted value does not open: wrong vault key, or the value was altered"
        ) from None


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        return parse_key(key)
    if len(key) != 32:
        raise VaultError("a vault key has 32 bytes")
    return key
