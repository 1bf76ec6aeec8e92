"""The model and its diagnostics: each kind of schema error -> one finding, exactly located."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_core import ErrorDetails

from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.durations import parse_duration
from tokensmith.schema.loader import load_config_source
from tokensmith.schema.location import Location, SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.validate import diagnose, field_path, validate

BASE = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main:
    algorithm: HS256
    secret: {env: MAIN_KEY}
identity_providers:
  auth0:
    issuer: https://example.auth0.com/
    jwks_url: https://example.auth0.com/.well-known/jwks.json
    algorithms: [RS256]
token_providers:
  svc:
    signing_key: main
"""


def check(tmp_path: Path, text: str) -> tuple[Config | None, list[Diagnostic], str]:
    file = tmp_path / "c.yaml"
    file.write_text(text, encoding="utf-8")
    config, found = validate(load_config_source(str(file)))
    return config, found, str(file)


def one(tmp_path: Path, text: str) -> tuple[Diagnostic, str]:
    config, found, file = check(tmp_path, text)
    assert config is None
    assert len(found) == 1, found
    return found[0], file


def test_a_valid_config_gets_its_defaults(tmp_path: Path) -> None:
    config, found, _ = check(tmp_path, BASE)
    assert found == []
    assert config is not None
    idp = config.identity_providers["auth0"]
    assert (idp.leeway, idp.mapping, idp.require, idp.discovery) == (60, {}, None, False)
    assert idp.algorithms == ("RS256",)
    svc = config.token_providers["svc"]
    assert (svc.expires_in, svc.expires_in_seconds, svc.claims) == ("1h", 3600, "act")
    assert (svc.audience, svc.identity_providers, svc.outlive_subject_token) == (None, None, False)
    secret = config.signing_keys["main"].secret
    assert secret is not None
    assert (secret.kind, secret.env, secret.encoding) == ("env", "MAIN_KEY", "utf8")
    assert config.tests == ()


def test_misspelt_field_is_located_at_its_key_with_did_you_mean(tmp_path: Path) -> None:
    text = BASE.replace("    jwks_url:", "    jwks_uri:")
    finding, file = one(tmp_path, text)
    assert finding.code == "E200"
    assert finding.location == Location(file, 10, 5)
    assert finding.message == "identity_providers.auth0: unknown field 'jwks_uri'"
    assert finding.hint == "did you mean 'jwks_url'?"


def test_unknown_top_level_field(tmp_path: Path) -> None:
    finding, file = one(tmp_path, BASE + "token_provider: {}\n")
    assert (finding.code, finding.location) == ("E200", Location(file, 15, 1))
    assert finding.message == "the top level: unknown field 'token_provider'"
    assert finding.hint == "did you mean 'token_providers'?"


def test_unknown_field_without_a_close_name_lists_the_fields(tmp_path: Path) -> None:
    finding, _ = one(tmp_path, BASE + "    zzz: 1\n")
    assert finding.hint is not None
    assert "signing_key" in finding.hint
    assert "expires_in" in finding.hint


@pytest.mark.parametrize(
    "literal", ["hunter2", "'sbsec_abc123'", "|\n      s3cr3t-block", "31415926535", "2.71828"]
)
def test_literal_secret_is_refused_without_echo(tmp_path: Path, literal: str) -> None:
    text = BASE.replace("secret: {env: MAIN_KEY}", f"secret: {literal}")
    finding, file = one(tmp_path, text)
    assert (finding.code, finding.location) == ("E204", Location(file, 6, 13))
    assert "never a literal" in finding.message
    assert "{env: NAME}, {file: PATH} or {encrypted: TEXT}" in finding.message
    shown = f"{finding.message} {finding.hint}"
    for secret in ("hunter2", "sbsec_abc123", "s3cr3t", "31415926535", "71828"):
        assert secret not in shown


def test_missing_required_field_is_located_at_its_owner(tmp_path: Path) -> None:
    finding, file = one(tmp_path, BASE.replace("    algorithms: [RS256]\n", ""))
    assert (finding.code, finding.location) == ("E201", Location(file, 8, 3))
    assert finding.message == "identity_providers.auth0: missing required field 'algorithms'"


def test_missing_field_of_a_list_item_points_at_the_item(tmp_path: Path) -> None:
    text = BASE + "tests:\n  - name: t\n    service: svc\n    token: {}\n"
    finding, file = one(tmp_path, text)
    assert (finding.code, finding.location) == ("E201", Location(file, 16, 5))
    assert finding.message == "tests[0]: missing required field 'expect'"


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("    algorithms: [RS256]\n", "    algorithms: [RS256]\n    leeway: '60'\n", (12, 13),
         "identity_providers.auth0.leeway: expected a whole number, found a string"),
        ("issuer: https://tokens.example.com/", "issuer: 42", (2, 9),
         "issuer: expected a string, found a number"),
        ("    algorithms: [RS256]\n", "    algorithms: RS256\n", (11, 17),
         "identity_providers.auth0.algorithms: expected a list, found a string"),
        ("    signing_key: main\n", "    signing_key: main\n    expires_in: [1h]\n", (15, 17),
         "token_providers.svc.expires_in: expected a duration such as 90s, 30m, 1h or 1d, "
         "or whole seconds; found a list"),
        ("    algorithms: [RS256]\n", "    algorithms: [RS256]\n    discovery: 'yes'\n", (12, 16),
         "identity_providers.auth0.discovery: expected true or false, found a string"),
    ],
)  # fmt: skip
def test_wrong_types_name_what_was_found_and_expected(
    tmp_path: Path, old: str, new: str, where: tuple[int, int], message: str
) -> None:
    finding, file = one(tmp_path, BASE.replace(old, new))
    assert (finding.code, finding.location, finding.message) == ("E202", Location(file, *where),
                                                                   message)


def test_unknown_algorithm_suggests_the_right_casing(tmp_path: Path) -> None:
    finding, file = one(tmp_path, BASE.replace("[RS256]", "[rs256]"))
    assert (finding.code, finding.location) == ("E203", Location(file, 11, 18))
    assert finding.message.startswith("identity_providers.auth0.algorithms[0]: expected HS256,")
    assert finding.message.endswith("found 'rs256'")
    assert finding.hint == "did you mean 'RS256'?"


@pytest.mark.parametrize("name", ["none", "NONE", "None"])
def test_none_algorithm_has_its_own_code(tmp_path: Path, name: str) -> None:
    finding, file = one(tmp_path, BASE.replace("[RS256]", f"[RS256, '{name}']"))
    assert (finding.code, finding.location) == ("E205", Location(file, 11, 25))


def test_version_must_be_1(tmp_path: Path) -> None:
    finding, file = one(tmp_path, BASE.replace("version: 1", "version: 2"))
    assert (finding.code, finding.location) == ("E203", Location(file, 1, 10))
    assert finding.message == "version: expected 1, found 2"


@pytest.mark.parametrize("ref", ["{env: A, file: /b}", "{}", "{encoding: base64}"])
def test_secret_reference_needs_exactly_one_source(tmp_path: Path, ref: str) -> None:
    finding, file = one(tmp_path, BASE.replace("{env: MAIN_KEY}", ref))
    assert (finding.code, finding.location) == ("E206", Location(file, 6, 13))


@pytest.mark.parametrize(
    ("ref", "code", "column"),
    [("{value: hunter2}", "E200", 14), ("{hunter2}", "E200", 14),
     ("{env: K, encoding: hunter2}", "E203", 32)],
)  # fmt: skip
def test_nothing_inside_a_secret_reference_is_echoed(
    tmp_path: Path, ref: str, code: str, column: int
) -> None:
    finding, file = one(tmp_path, BASE.replace("{env: MAIN_KEY}", ref))
    assert (finding.code, finding.location) == (code, Location(file, 6, column))
    assert "hunter2" not in f"{finding.message} {finding.hint}"


def test_secret_encoding_is_an_enum(tmp_path: Path) -> None:
    finding, _ = one(tmp_path, BASE.replace("{env: MAIN_KEY}", "{env: K, encoding: hex}"))
    assert finding.code == "E203"
    assert finding.message.endswith("expected utf8, base64 or base64url, found a string")


def test_each_error_is_reported_once(tmp_path: Path) -> None:
    text = BASE.replace("    signing_key: main\n", "    signing_key: 5\n    expires_in: null\n")
    _, found, _ = check(tmp_path, text)
    assert sorted(d.code for d in found) == ["E202", "E202"]


def test_load_errors_stop_validation(tmp_path: Path) -> None:
    config, found, _ = check(tmp_path, "version: 1\nversion: 1\n")
    assert (config, found) == (None, [])


def test_field_path_reads_like_the_config() -> None:
    assert field_path(("tests", 0, "expect", "claims")) == "tests[0].expect.claims"
    assert field_path(()) == "the config"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("1d", 86400), (600, 600), ("0s", 0),
     ("1.5h", None), ("h", None), ("1w", None), (-5, None), (True, None), ("", None),
     ("1h30m", None)],
)  # fmt: skip
def test_parse_duration(value: str | int, seconds: int | None) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [("{env: MAIN_KEY}", "{env: ''}", (6, 19)), ("issuer: https://tokens.example.com/", "issuer: ''", (2, 9))],
)
def test_empty_strings_where_a_value_is_needed(
    tmp_path: Path, old: str, new: str, where: tuple[int, int]
) -> None:
    finding, file = one(tmp_path, BASE.replace(old, new))
    assert (finding.code, finding.location) == ("E207", Location(file, *where))
    assert finding.message.endswith(": must not be empty")


def test_a_refusal_without_a_code_of_its_own_falls_back_to_e209() -> None:
    """No config reaches E209 today (every refusal of the model has its own code); a refusal a
    later pydantic adds must still become one located finding that names the field."""
    here = Location("c.yaml", 3, 9)
    source_map = SourceMap(values={("token_providers", "svc", "expires_in"): here})
    err: ErrorDetails = {
        "type": "greater_than",
        "loc": ("token_providers", "svc", "expires_in"),
        "msg": "Input should be greater than 0",
        "input": -1,
    }
    found = diagnose(err, source_map)
    assert (found.code, found.location, found.hint) == ("E209", here, None)
    assert found.message == "token_providers.svc.expires_in: Input should be greater than 0"
