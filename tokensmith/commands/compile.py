"""`tokensmith compile CONFIG -o BUNDLE_DIR [--sign KEY [--valid-for DURATION]]`: check, then
write the bundle atomically, then (with `--sign`) sign it as `tokensmith sign` does."""

from __future__ import annotations

import argparse
import sys

from .sign import add_sign_arguments, sign_and_report, signing_key_or_report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="check a config and write its immutable bundle",
        description="Check the config; when it has no errors, write the bundle (manifest.json, "
        "config.json, mappings.py) to BUNDLE_DIR, replacing an existing bundle atomically, "
        "and print its revision. Exit 1 on config errors (nothing written), 2 on I/O errors.",
    )
    parser.add_argument("config", metavar="CONFIG", help="a YAML file or a directory of them")
    parser.add_argument("-o", "--output", metavar="BUNDLE_DIR", required=True)
    add_sign_arguments(parser, flag="--sign")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith import __version__
    from tokensmith.compiler.bundle import build_bundle
    from tokensmith.compiler.bundle_files import BundleWriteError, write_bundle
    from tokensmith.compiler.check import check_path
    from tokensmith.reporters import render_text, summary
    from tokensmith.runtime.bundle import load_bundle_files
    from tokensmith.schema.loader import ConfigReadError

    if args.valid_for is not None and args.key is None:
        print("tokensmith compile: --valid-for needs --sign KEY", file=sys.stderr)
        return 2
    key = None
    if args.key is not None:  # a key that cannot sign stops us before anything is written
        key = signing_key_or_report("compile", args.key)
        if key is None:
            return 1
    try:
        result = check_path(args.config)
    except ConfigReadError as exc:
        print(f"tokensmith compile: cannot read {exc}", file=sys.stderr)
        return 2
    if result.diagnostics:
        sys.stderr.write(render_text(result.diagnostics, result.source_map))
        print(summary(result.diagnostics), file=sys.stderr)
    if not result.ok:
        print("tokensmith compile: not written: the config has errors", file=sys.stderr)
        return 1
    files = build_bundle(result, version=__version__)
    # Load what we are about to write, exactly as the runtime will: a bundle that does not
    # load is a compiler bug and must never reach a deployment.
    bundle = load_bundle_files(files, origin=args.output)
    try:
        write_bundle(files, args.output)
    except BundleWriteError as exc:
        print(f"tokensmith compile: {exc}", file=sys.stderr)
        return 2
    print(f"revision {bundle.revision}")
    print(f"wrote {args.output}", file=sys.stderr)
    if key is None:
        return 0
    return sign_and_report("compile", args.output, key, args.valid_for)
