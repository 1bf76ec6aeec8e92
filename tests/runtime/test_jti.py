"""`new_jti`: 22 base64url characters, never repeated, never shared with a forked child."""

from __future__ import annotations

import os
import re

from tokensmith.runtime import jti
from tokensmith.runtime.jti import JTI_LENGTH, new_jti

BASE64URL = re.compile(r"[A-Za-z0-9_-]{22}")


def test_shape_and_no_repeats_across_many_refills() -> None:
    values = [new_jti() for _ in range(20_000)]  # about 107 refills of the buffer
    assert all(BASE64URL.fullmatch(v) for v in values)
    assert len(set(values)) == len(values)


def test_characters_look_uniform() -> None:
    # 64 symbols, 22 * 20,000 = 440,000 characters: each should appear about 6,875 times;
    # a broken source (a constant, a skewed slice) is far outside +-10%
    text = "".join(new_jti() for _ in range(20_000))
    counts = {c: text.count(c) for c in set(text)}
    assert len(counts) == 64
    expected = len(text) / 64
    assert all(0.9 * expected < n < 1.1 * expected for n in counts.values())


def test_a_forked_child_does_not_reuse_the_parents_buffer() -> None:
    new_jti()  # the parent has a filled buffer with unused characters
    position = jti._random.position
    upcoming = jti._random.text[position : position + JTI_LENGTH]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first jti and leave without cleanup
        os.close(read_end)
        os.write(write_end, new_jti().encode())
        os._exit(0)
    os.close(write_end)
    child_value = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert BASE64URL.fullmatch(child_value)
    assert child_value != upcoming
    assert new_jti() == upcoming  # the parent goes on where it was
