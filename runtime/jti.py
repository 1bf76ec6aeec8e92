"""`jti` values for issued tokens: 132 random bits each, from `os.urandom`, 186 per system call.

`secrets.token_urlsafe(16)` asks the kernel for 16 bytes on every exchange, and in the server a
system call between network writes finds cold caches (`bench/README.md`). `new_jti` takes
22 characters at a time from the base64url text of 3,072 bytes of `os.urandom`, refilled when
used up: every character of that text carries 6 uniformly random bits, so each `jti` carries
132 bits (`token_urlsafe(16)` carries 128), and no character is ever handed out twice.

A forked child must not hand out its parent's unused characters: `os.register_at_fork` empties
the buffer in every child (uvicorn's workers are spawned, not forked, but a program embedding
the runtime might fork). `new_jti` is not thread-safe: the server calls it from its event-loop
thread only; a program calling it from several threads must hold a lock around it.
"""

from __future__ import annotations

import base64
import os

JTI_LENGTH = 22
_FILL_BYTES = 3072  # a multiple of 3: base64 without padding, 4,096 characters


class _RandomText:
    """The process's random base64url text and how much of it is handed out already."""

    __slots__ = ("position", "text")

    def __init__(self) -> None:
        self.text = ""
        self.position = 0

    def forget(self) -> None:
        """Drop the unused characters (in a forked child: they are the parent's)."""
        self.text = ""
        self.position = 0


_random = _RandomText()


def new_jti() -> str:
    """A fresh `jti`: 22 base64url characters, 132 bits from the operating system's CSPRNG."""
    buffer = _random
    position = buffer.position
    end = position + JTI_LENGTH
    text = buffer.text
    if end > len(text):
        text = buffer.text = base64.urlsafe_b64encode(os.urandom(_FILL_BYTES)).decode("ascii")
        position, end = 0, JTI_LENGTH
    buffer.position = end
    return text[position:end]


os.register_at_fork(after_in_child=_random.forget)
