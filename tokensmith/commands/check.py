"""`tokensmith check CONFIG [--format text|json|github|sarif] [--strict]`."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a config and report every finding with its location",
        description="Validate a config file or directory. Silent with exit 0 when clean; "
        "exit 1 on errors (or warnings with --strict); exit 2 when the config cannot be read.",
    )
    parser.add_argument("config", metavar="CONFIG", help="a YAML file or a directory of them")
    parser.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif"),
        default="text",
        help="how to print findings (default: text)",
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.compiler.check import check_path
    from tokensmith.reporters import render, summary
    from tokensmith.schema.loader import ConfigReadError

    try:
        result = check_path(args.config)
    except ConfigReadError as exc:
        print(f"tokensmith check: cannot read {exc}", file=sys.stderr)
        return 2
    findings = result.diagnostics
    if args.format != "text" or findings:
        sys.stdout.write(render(args.format, findings, result.source_map))
    if findings and args.format == "text":
        print(summary(findings), file=sys.stderr)
    failed = bool(result.errors) or (args.strict and bool(result.warnings))
    return 1 if failed else 0
