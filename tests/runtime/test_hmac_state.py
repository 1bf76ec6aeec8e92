"""`PrecomputedHmac` gives exactly `hmac.digest`'s bytes, for every key length and message."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokensmith.runtime.hmac_state import PrecomputedHmac

ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@given(
    alg=st.sampled_from(sorted(ALGORITHMS)),
    # around both block sizes (64 and 128 bytes): shorter keys are padded, longer ones hashed
    key=st.binary(min_size=0, max_size=300),
    messages=st.lists(st.binary(max_size=2000), min_size=1, max_size=4),
)
def test_same_bytes_as_hmac_digest(alg: str, key: bytes, messages: list[bytes]) -> None:
    mac = PrecomputedHmac.for_algorithm(key, alg)
    for message in messages:  # the precomputed states are reused, never consumed
        assert mac.digest(message) == hmac.digest(key, message, ALGORITHMS[alg])


@pytest.mark.parametrize("alg", sorted(ALGORITHMS))
@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 127, 128, 129, 1000])
def test_key_lengths_at_the_block_boundaries(alg: str, length: int) -> None:
    key = bytes(range(256)) * 4
    key = key[:length]
    mac = PrecomputedHmac.for_algorithm(key, alg)
    assert mac.digest(b"header.payload") == hmac.digest(key, b"header.payload", ALGORITHMS[alg])


def test_rfc4231_test_case_2() -> None:
    # RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?"
    mac = PrecomputedHmac.for_algorithm(b"Jefe", "HS256")
    assert mac.digest(b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_repr_does_not_show_the_key() -> None:
    key = b"supersecret-supersecret-supersecret"
    text = repr(PrecomputedHmac.for_algorithm(key, "HS256"))
    assert "supersecret" not in text and key.hex() not in text
    assert text == "PrecomputedHmac(sha256)"
