"""Rules on `cors.allow_origins`.

Codes: E356 an entry that is not an origin (`scheme://host[:port]`, no path, https unless the
host is loopback); W321 the wildcard `*`, which lets any web page exchange its visitors' tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E356, W321
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


RULES: tuple[Rule, ...] = (allowed_origins,)
