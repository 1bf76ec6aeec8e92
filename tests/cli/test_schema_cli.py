"""`tokensmith schema`: a JSON Schema that editors can use on real config files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

SAMPLE = """\
# yaml-language-server: $schema=tokensmith.schema.json
version: 1
issuer: https://tokens.example.com/
cors: {allow_origins: [https://app.example.com]}
signing_keys:
  main: {algorithm: ES256, private_key: {file: /run/secrets/main.pem}}
identity_providers:
  auth0:
    issuer: https://example.auth0.com/
    audience: https://example.auth0.com/api/v2/
    jwks_url: https://example.auth0.com/.well-known/jwks.json
    algorithms: [RS256]
    leeway: 30
    require: {$.email_verified: true}
    mapping: {sub.$: $.sub}
  ci:
    preset: github-actions
    owner: my-org
token_providers:
  svc:
    signing_key: main
    expires_in: 15m
    identity_providers: [auth0, ci]
    claims: root
    mapping: {sub.$: $.sub, role: reader}
tests:
  - name: user
    service: svc
    token: {iss: https://example.auth0.com/, sub: u1}
    expect: {claims_subset: {sub: u1}}
"""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    out = subprocess.run(
        [sys.executable, "-m", "tokensmith", "schema"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "tokensmith config"
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def sample(**changes: Any) -> Any:
    data = YAML(typ="safe", pure=True).load(SAMPLE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
    return data


@pytest.mark.slow
def test_a_full_config_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    assert list(validator.iter_errors(sample())) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "changes",
    [
        {"signing_keys__main__private_key": "-----BEGIN PRIVATE KEY-----"},
        {"signing_keys__main__private_key": {"env": "A", "file": "b"}},
        {"identity_providers__auth0__jwks_uri": "https://x/"},
        {"identity_providers__auth0__algorithms": ["none"]},
        {"token_providers__svc__claims": "acts"},
        {"version": 2},
        {"identity_providers__ci__preset": "gitbub-actions"},
    ],
)
def test_mistakes_are_flagged(
    validator: jsonschema.Draft202012Validator, changes: dict[str, Any]
) -> None:
    assert list(validator.iter_errors(sample(**changes))) != []


@pytest.mark.slow
def test_a_preset_needs_its_parameters(validator: jsonschema.Draft202012Validator) -> None:
    data = sample()
    del data["identity_providers"]["ci"]["owner"]
    assert list(validator.iter_errors(data)) != []


@pytest.mark.slow
def test_a_provider_without_preset_needs_algorithms(
    validator: jsonschema.Draft202012Validator,
) -> None:
    data = sample()
    del data["identity_providers"]["auth0"]["algorithms"]
    assert list(validator.iter_errors(data)) != []


@pytest.mark.slow
def test_one_file_of_a_directory_config_is_valid_alone(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert list(validator.iter_errors({"identity_providers": sample()["identity_providers"]})) == []


# --- the committed schema and the examples' modelines ------------------------------------------

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schema" / "tokensmith.schema.json"
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")


@pytest.mark.slow
def test_the_committed_schema_is_what_tokensmith_schema_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "tokensmith", "schema"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert COMMITTED.read_text(encoding="utf-8") == printed, (
        "run: tokensmith schema > schema/tokensmith.schema.json"
    )


@pytest.mark.parametrize(
    "example", sorted((REPO / "examples").glob("*/tokensmith.yaml")), ids=lambda p: p.parent.name
)
def test_each_example_names_the_committed_schema_in_its_first_line(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    match = MODELINE.match(text)
    assert match, f"{example} does not open with a yaml-language-server modeline"
    assert (example.parent / match.group(1)).resolve() == COMMITTED.resolve()
