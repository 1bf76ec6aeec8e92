"""`review/import_statebacked.py` on its own: what it flags and how it writes YAML values.

The whole import through the real CLI (and the claims it then issues) is in
`tests/cli/test_import_cli.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokensmith.review.import_statebacked import import_statebacked
from tokensmith.schema.loader import load_config_source


def test_an_asymmetric_key_without_jwks_url_is_flagged() -> None:
    result = import_statebacked(
        [{"iss": "https://idp.example.com", "algs": ["RS256"], "mapping": {}}], [])
    assert result.warnings and "public key" in result.warnings[0]
    assert "jwks: {keys: []}" in result.text


def test_values_that_yaml_would_misread_are_quoted(tmp_path: Path) -> None:
    mapping = {"yes": "no", "n.$": "$.n", "num": "0123", "colon": "a: b", "hash": "#x",
               "empty": "", "null": None, "list": [1, "true", {"x.$": "$.x"}]}
    result = import_statebacked(
        [{"iss": "https://i.example.com", "algs": ["RS256"], "jwksUrl": "https://i.example.com/k",
          "mapping": mapping}], [])
    path = tmp_path / "c.yaml"
    path.write_text(result.text)
    loaded = load_config_source(str(path))
    assert loaded.ok
    assert loaded.data["identity_providers"]["i.example.com"]["mapping"] == mapping
    assert os.path.getsize(path) > 0
