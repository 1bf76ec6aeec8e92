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


def test_a_line_break_in_a_key_id_stays_inside_its_comment(tmp_path: Path) -> None:
    # a keyId ends up in two comments (the header's list of variables, the secret's note);
    # a line break there would write top-level YAML of the export's choosing
    injected = "k1\nissuer: https://evil.example/\r\u2028x: 1\x85y: 2"
    result = import_statebacked(
        [{"iss": "https://i.example.com", "algs": ["HS256"], "mapping": {}}],
        [{"service": "svc", "keyId": injected, "mapping": {}}])
    header = result.text.split("version: 1", 1)[0]
    assert all(line.startswith("#") for line in header.splitlines() if line), header
    path = tmp_path / "c.yaml"
    path.write_text(result.text)
    loaded = load_config_source(str(path))
    assert loaded.ok
    assert loaded.data["issuer"] != "https://evil.example/"
    assert list(loaded.data["signing_keys"]) == [injected]
    assert "key k1\\u000aissuer: https://evil.example/\\u000d\\u2028x: 1\\u0085y: 2" in header
