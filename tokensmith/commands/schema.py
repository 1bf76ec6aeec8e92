"""`tokensmith schema`: the JSON Schema of the config, for editors and CI validators.

Point an editor at it with a first line `# yaml-language-server: $schema=<path to the file>`.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of the config",
        description="Print the JSON Schema of a tokensmith config (one file of it), generated "
        "from the config model. `tokensmith check` enforces more than the schema can express.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith.schema.json_schema import config_json_schema

    sys.stdout.write(json.dumps(config_json_schema(), indent=2) + "\n")
    return 0
