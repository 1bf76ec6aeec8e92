"""Canonical base64url (RFC 7515 §2): one spelling per byte string, or a refusal.

JWS segments must be base64url without padding, whitespace or the `+` `/` alphabet, and the
unused bits of the last character must be zero; otherwise two different token strings would
carry the same bytes, and a lenient decoder would accept what a strict peer refuses.
"""

from __future__ import annotations

import binascii

from .errors import ExchangeError

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}
# To the standard alphabet for binascii's strict decoder, turning `+`, `/` and `=` (which
# base64url text must not contain) into a character that decoder refuses.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_PADDING = {0: b"", 2: b"==", 3: b"="}
# Unused low bits of the last character: 4 bits when len % 4 == 2, 2 bits when len % 4 == 3.
_UNUSED_BITS_MASK = {2: 0b1111, 3: 0b0011}


class Base64Error(ExchangeError, ValueError):
    """The text is not canonical unpadded base64url."""


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url text of `data`."""
    # binascii directly: `base64.urlsafe_b64encode` is two more Python calls per segment
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode(
        "ascii"
    )


def b64url_decode(text: str) -> bytes:
    """Bytes of canonical unpadded base64url `text`; `Base64Error` for any other spelling."""
    remainder = len(text) % 4
    if remainder == 1:  # a length of 4n + 1 is never base64
        raise Base64Error("not canonical base64url")
    try:
        standard = text.encode("ascii").translate(_TO_STANDARD) + _PADDING[remainder]
        data = binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise Base64Error("not canonical base64url") from None
    mask = _UNUSED_BITS_MASK.get(remainder)
    if mask is not None and _VALUE[text[-1]] & mask:
        raise Base64Error("non-zero unused bits in base64url")
    return data


def b64url_decode_lenient_padding(text: str) -> bytes:
    """Like `b64url_decode`, but tolerates trailing `=` padding (some JWKS documents pad)."""
    return b64url_decode(text.rstrip("=") if text.endswith("=") else text)
