"""`docs/diagnostics.md`'s tables of codes, generated from the catalogue (`codes.py`).

The page is written by hand except between markers; each marked region is one table of the codes
whose id starts with one of the listed prefixes, in catalogue order:

    <!-- codes E30 W30: generated from schema/codes.py, do not edit -->
    ...
    <!-- end of codes -->

Every catalogued code must land in exactly one table. `python -m tokensmith.schema.codes_doc`
rewrites the page in place; with `--check` it only says whether the page is up to date (exit 1
when not), which is what the test suite asserts.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .codes import CATALOGUE, Code

DEFAULT_PAGE = Path("docs") / "diagnostics.md"

_REGION = re.compile(
    r"(?P<open><!-- codes (?P<prefixes>[EW0-9 ]+): generated from schema/codes\.py, "
    r"do not edit -->\n)(?P<body>.*?)(?P<close><!-- end of codes -->)",
    re.DOTALL,
)
_HEADER = "| code | severity | title | meaning |\n|---|---|---|---|\n"


def row(code: Code) -> str:
    """One table row; the code cell carries the anchor that `Code.help_uri` points at."""
    cells = (f'<a id="{code.anchor}"></a>{code.id}', code.severity.value, code.title, code.help)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n"


def table(codes: Iterable[Code]) -> str:
    return _HEADER + "".join(row(code) for code in codes)


def render(page: str, catalogue: Mapping[str, Code] = CATALOGUE) -> str:
    """`page` with every marked table regenerated from `catalogue`.

    Raises ValueError when a code would be in no table or in two.
    """
    placed: dict[str, str] = {}

    def regenerate(match: re.Match[str]) -> str:
        prefixes = tuple(match["prefixes"].split())
        codes = [c for c in catalogue.values() if c.id.startswith(prefixes)]
        for code in codes:
            if code.id in placed:
                raise ValueError(f"{code.id} is in two tables: {placed[code.id]} and {prefixes}")
            placed[code.id] = " ".join(prefixes)
        return match["open"] + table(codes) + match["close"]

    rendered = _REGION.sub(regenerate, page)
    missing = [code for code in catalogue if code not in placed]
    if missing:
        raise ValueError(f"no table of the page takes {', '.join(missing)}: add its prefix to one")
    return rendered


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tokensmith.schema.codes_doc",
        description="Regenerate the tables of codes in docs/diagnostics.md from the catalogue.",
    )
    parser.add_argument("page", nargs="?", type=Path, default=DEFAULT_PAGE)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    args = parser.parse_args(argv)
    current = args.page.read_text(encoding="utf-8")
    try:
        wanted = render(current)
    except ValueError as exc:
        print(f"{args.page}: {exc}", file=sys.stderr)
        return 1
    if wanted == current:
        return 0
    if args.check:
        print(f"{args.page} is out of date: run python -m tokensmith.schema.codes_doc",
              file=sys.stderr)
        return 1
    args.page.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
