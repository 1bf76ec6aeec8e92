"""A shortcut of `strict_json.loads`: bytes that orjson writes back unchanged need no strict check.

When orjson parses a document and writes the result back as exactly the same bytes, the text is
the one canonical spelling of that value, so none of the things the strict decoder refuses can
be in it: a duplicate member would be missing from the output, NaN, an infinity or a lone
surrogate cannot be written, an integer over 64 bits comes back as a float, and any whitespace,
escape or exponent would be spelled differently. orjson's value is then the strict decoder's
value, at a fraction of the cost; every compact JWT header and payload takes this path. Any
other document goes to the plain reference, `strict_json.plain_loads`, which decides.

Nesting is not checked here: the caller counts brackets first (`strict_json.loads`).
`tests/runtime/test_shortcut_equivalence.py` pins this against the plain reference.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

#: What `canonical_loads` returns for a document it cannot vouch for.
NOT_CANONICAL: Final[Any] = object()


def canonical_loads(data: bytes) -> Any:
    """orjson's value of `data` when orjson writes it back as exactly `data`, else `NOT_CANONICAL`."""
    try:
        value = orjson.loads(data)
        same = orjson.dumps(value) == data
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return NOT_CANONICAL
    return value if same else NOT_CANONICAL
