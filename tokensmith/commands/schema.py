"""`tokensmith schema`: the JSON Schema of the config, for editors and CI validators.

Point an editor at it with a first line `# yaml-language-server: $schema=<path to the file>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of the config",
        description="Print the JSON Schema of a tokensmith config (one file of it), generated "
        "from the config model. `tokensmith check` enforces more than the schema can express.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(config_json_schema(), indent=2) + "\n")
    return 0


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, presets included."""
    from tokensmith.schema.models import Config
    from tokensmith.schema.presets import json_schema_fragment

    generated = Config.model_json_schema()
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "tokensmith config",
        "description": "A tokensmith config file (see docs/config.md).",
        **{k: v for k, v in generated.items() if k != "title"},
    }
    # any one file of a config directory validates: `version` and `issuer` may be in another
    schema.pop("required", None)
    provider = schema["$defs"]["IdentityProvider"]
    presets = json_schema_fragment()
    provider["properties"].update(presets["properties"])
    # with a preset, `algorithms` comes from the preset instead of the user
    provider["required"] = [r for r in provider.get("required", []) if r != "algorithms"]
    if not provider["required"]:
        del provider["required"]
    provider["allOf"] = [
        {"anyOf": [{"required": ["preset"]}, {"required": ["algorithms"]}]},
        *presets["allOf"],
    ]
    return schema
