"""Rules on `cors.allow_origins` and `cors.allow_headers`.

Codes: E356 an entry that is not an origin (`scheme://host[:port]`, no path, https unless the
host is loopback); W321 the wildcard `*`, which lets any web page exchange its visitors' tokens;
E357 an allowed header that is not a header name (or is `*`); W323 an allowed header that is
allowed by default or listed twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokensmith.runtime.model import CORS_DEFAULT_HEADERS as DEFAULT_HEADERS
from tokensmith.schema.codes import E356, E357, W321, W323
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import SourceMap
from tokensmith.schema.models import Config

from ._common import Rule, shown
from ._urls import has_userinfo, origin_problem


def allowed_origins(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    if config.cors is None:
        return
    for index, origin in enumerate(config.cors.allow_origins):
        where = source_map.value(("cors", "allow_origins", index))
        if origin == "*":
            yield Diagnostic(
                W321,
                "`cors.allow_origins` allows every origin ('*'): any web page can send its "
                "visitors' tokens to this exchange",
                where,
                "list the origins of your own apps, e.g. https://app.example.com",
            )
            continue
        problem = origin_problem(origin)
        if problem is not None:
            # user information may be a password: never repeated, nor its source line shown
            secret = has_userinfo(origin)
            yield Diagnostic(
                E356,
                f"`cors.allow_origins` entry {index if secret else shown(origin)} {problem}",
                where,
                "an origin is scheme://host[:port], e.g. https://app.example.com",
                secret_at=where if secret else None,
            )


# an HTTP field name (RFC 9110 §5.1: a token)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def allowed_headers(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    if config.cors is None:
        return
    seen = {name.lower() for name in DEFAULT_HEADERS}
    for index, name in enumerate(config.cors.allow_headers):
        where = source_map.value(("cors", "allow_headers", index))
        if name == "*" or not _HEADER_NAME.fullmatch(name):
            yield Diagnostic(
                E357,
                f"`cors.allow_headers` entry {shown(name)} is not a header name",
                where,
                "list each request header by its name, e.g. X-Client-Version",
            )
        elif name.lower() in seen:
            default = name.lower() in {d.lower() for d in DEFAULT_HEADERS}
            yield Diagnostic(
                W323,
                f"`cors.allow_headers` entry {shown(name)} "
                + ("is allowed by default" if default else "is listed twice"),
                where,
                "remove it: preflights allow "
                + ", ".join(DEFAULT_HEADERS) + " and each listed header",
            )
        else:
            seen.add(name.lower())


RULES: tuple[Rule, ...] = (allowed_origins, allowed_headers)
