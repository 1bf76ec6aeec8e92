"""The vault: AES-256-GCM sealing that refuses wrong keys and altered values."""

from __future__ import annotations

import base64

import pytest

from tokensmith.runtime.vault import VaultError, keygen, open_sealed, parse_key, seal


def test_keys_are_random_printable_and_32_bytes() -> None:
    a, b = keygen(), keygen()
    assert a != b and a.startswith("tsvk1_") and a.isascii() and a.isprintable()
    assert len(parse_key(a)) == 32


def test_seal_and_open_round_trip_with_fresh_nonces() -> None:
    key = keygen()
    first, second = seal(key, b"sbsec_secret"), seal(key, b"sbsec_secret")
    assert first != second and first.startswith("tsv1:")
    assert "sbsec" not in first
    assert open_sealed(key, first) == open_sealed(key, second) == b"sbsec_secret"
    assert open_sealed(parse_key(key), first) == b"sbsec_secret"


def test_wrong_key_does_not_open() -> None:
    sealed = seal(keygen(), b"secret")
    with pytest.raises(VaultError, match="wrong vault key"):
        open_sealed(keygen(), sealed)


def test_every_single_bit_flip_is_detected() -> None:
    key = keygen()
    sealed = seal(key, b"secret")
    blob = base64.urlsafe_b64decode(sealed[5:] + "==")
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 1
        text = "tsv1:" + base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")
        with pytest.raises(VaultError):
            open_sealed(key, text)


@pytest.mark.parametrize("text", ["", "tsv2:AAAA", "tsv1:", "tsv1:AAAA", "tsv1:not base64!", "x"])
def test_malformed_values_are_refused_clearly(text: str) -> None:
    with pytest.raises(VaultError):
        open_sealed(keygen(), text)


@pytest.mark.parametrize("key", ["", "tsvk1_", "tsvk1_AAAA", "tsvk2_" + "A" * 43, "A" * 49])
def test_malformed_keys_are_refused_without_echoing_them(key: str) -> None:
    with pytest.raises(VaultError) as info:
        parse_key(key)
    assert key not in str(info.value) or key in ("", "tsvk1_")
