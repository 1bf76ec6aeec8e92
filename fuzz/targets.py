"""The fuzz targets: each takes any bytes and may raise only its parser's own refusal.

Shared by the atheris harness (`fuzz/run_atheris.py`, coverage-guided) and by the normal test
suite, which replays every input in `fuzz/corpus/<target>/` (`tests/test_fuzz_corpus.py`). An
exception other than the expected refusal escapes: that is the bug a fuzzer reports.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable

from tokensmith.compiler.check import check_path
from tokensmith.compiler.mappings.paths import PathSyntaxError, find_values, parse_path
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.request import FORM, JSON, body_kind, parse_body
from tokensmith.runtime.strict_json import StrictJSONError, loads

#: A document for paths to run against: nested objects, arrays, the JSON types.
_DOCUMENT = {"sub": "u", "a": {"b": [1, 2.5, None, True, {"c": "d"}]}, "roles": ["x", "y"]}
_CONFIG_DIR = tempfile.mkdtemp(prefix="tokensmith-fuzz-")


def strict_json(data: bytes) -> None:
    """The strict JSON parser of tokens and bodies: a value, or `StrictJSONError`."""
    with contextlib.suppress(StrictJSONError):
        loads(data)


def compact_jws(data: bytes) -> None:
    """Compact JWS parsing with its header checks: a parsed token, or an `ExchangeError`."""
    with contextlib.suppress(ExchangeError):
        parse_compact(data.decode("utf-8", "surrogateescape"))


def bodies(data: bytes) -> None:
    """`POST /tokens` bodies: the first byte picks the encoding, the rest is the body."""
    kind = FORM if data[:1] < b"\x80" else JSON
    with contextlib.suppress(ExchangeError):
        parse_body(body_kind(kind), data[1:])


def config(data: bytes) -> None:
    """A YAML config file through `check`: diagnostics, never an exception."""
    path = os.path.join(_CONFIG_DIR, "tokensmith.yaml")
    with open(path, "wb") as file:
        file.write(data)
    check_path(path)


def jsonpath(data: bytes) -> None:
    """The mapping dialect's paths: parsed and run on a document, or `PathSyntaxError`."""
    try:
        path = parse_path(data.decode("utf-8", "replace"))
    except PathSyntaxError:
        return
    find_values(path, _DOCUMENT)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "strict_json": strict_json,
    "compact_jws": compact_jws,
    "bodies": bodies,
    "config": config,
    "jsonpath": jsonpath,
}
