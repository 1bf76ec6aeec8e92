"""The JSON Schema of one config file, for editors and CI validators (`tokensmith schema`).

Generated from the model, with the presets' parameters and the condition language of `require`
(`schema/conditions.py`) added. Any one file of a config directory validates, so nothing is
required at the top level; `check` enforces more than a schema can express.
"""

from __future__ import annotations

from typing import Any

from .conditions import json_schema_defs
from .models import Config
from .presets import json_schema_fragment

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, presets included."""
    generated = Config.model_json_schema()
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "tokensmith config",
        "description": "A tokensmith config file (see docs/config.md).",
        **{k: v for k, v in generated.items() if k != "title"},
    }
    # any one file of a config directory validates: `version` and `issuer` may be in another
    schema.pop("required", None)
    schema["$defs"].update(json_schema_defs())
    for holder in ("IdentityProvider", "TokenProvider"):
        require = schema["$defs"][holder]["properties"]["require"]
        description = require.get("description")
        schema["$defs"][holder]["properties"]["require"] = {
            "anyOf": [{"$ref": "#/$defs/Conditions"}, {"type": "null"}],
            **({"description": description} if description else {}),
        }
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
