"""`tokensmith import statebacked --idps FILE --token-providers FILE [-o DIR] [--issuer URL]`.

The module has a suffix because `import` is a keyword; the verb is `import`, with one
subcommand per source (only `statebacked` today).
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="turn another token exchange's configuration into a tokensmith config",
        description="Turn another token exchange's configuration into a tokensmith config.",
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE")
    sources.required = True
    statebacked = sources.add_parser(
        "statebacked",
        help="from the JSON of State Backed's GET /idps and GET /token-providers",
        description="Write a config from the JSON answers of State Backed's GET /idps and "
        "GET /token-providers. Secrets become {env: NAME} references; the file's header lists "
        "the variables to set. Prints the YAML, or writes DIR/tokensmith.yaml and checks it.",
    )
    statebacked.add_argument("--idps", required=True, metavar="FILE",
                             help="the JSON of GET /idps")
    statebacked.add_argument("--token-providers", required=True, metavar="FILE",
                             help="the JSON of GET /token-providers")
    statebacked.add_argument("-o", "--output", metavar="DIR",
                             help="write DIR/tokensmith.yaml instead of printing it")
    statebacked.add_argument("--issuer", default=None, metavar="URL",
                             help="the `iss` of issued tokens (default https://tokens.example.com/)")
    statebacked.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.review.import_statebacked import (
        DEFAULT_ISSUER,
        ImportInputError,
        import_statebacked,
        read_listing,
    )

    from ._input import InputError, read_text

    try:
        idps = read_listing(read_text(args.idps), "idps", args.idps)
        providers = read_listing(read_text(args.token_providers), "tokenProviders",
                                 args.token_providers)
        imported = import_statebacked(idps, providers, args.issuer or DEFAULT_ISSUER)
    except InputError as exc:
        print(f"tokensmith import: cannot read {exc}", file=sys.stderr)
        return 2
    except ImportInputError as exc:
        print(f"tokensmith import: {exc}", file=sys.stderr)
        return 2
    for warning in imported.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(imported.text)
        return 0
    return _write_and_check(args.output, imported.text)


def _write_and_check(directory: str, text: str) -> int:
    from tokensmith.compiler.check import check_path
    from tokensmith.reporters import render_text

    target = os.path.join(directory, "tokensmith.yaml")
    if os.path.exists(directory) and not os.path.isdir(directory):
        print(f"tokensmith import: {directory} exists and is not a directory", file=sys.stderr)
        return 2
    try:
        os.makedirs(directory, exist_ok=True)
        with open(target, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        print(f"tokensmith import: {target} exists; not overwriting it", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"tokensmith import: cannot write {target}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {target}", file=sys.stderr)
    result = check_path(target)
    if result.diagnostics:
        sys.stderr.write(render_text(result.diagnostics, result.source_map))
    return 0 if result.ok else 1
