"""A mapping as one line per output key, the way `diff` and `explain` show it to a person."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def flatten_mapping(mapping: Mapping[str, Any]) -> dict[str, str]:
    """Output key -> `<- path` or `= constant` (`require` conditions: `condition_changes.py`)."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        if key.endswith(".$"):
            out[key[:-2]] = f"<- {value}"
        elif isinstance(value, dict) and value:
            out.update({f"{key}.{k}": v for k, v in flatten_mapping(value).items()})
        else:
            out[key] = f"= {as_json(value)}"
    return out


def as_json(value: Any) -> str:
    """`value` as one line of key-sorted JSON, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
