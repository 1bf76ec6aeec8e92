"""Presets expand to the identity provider a user would write by hand, through the real `check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tokensmith.compiler.check import check_path
from tokensmith.reporters import render_text
from tokensmith.schema.models import IdentityProvider
from tokensmith.schema.presets import PRESETS, json_schema_fragment

HEADER = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k: {algorithm: HS256, secret: {env: K}}
identity_providers:
  idp:
"""
FOOTER = """\
token_providers:
  svc: {signing_key: k}
"""


def checked(tmp_path: Path, provider_lines: str) -> Any:
    body = "".join(f"    {line}\n" for line in provider_lines.strip().splitlines())
    path = tmp_path / "tokensmith.yaml"
    path.write_text(HEADER + body + FOOTER)
    return check_path(str(path))


def provider(tmp_path: Path, provider_lines: str) -> IdentityProvider:
    result = checked(tmp_path, provider_lines)
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    return result.config.identity_providers["idp"]


CASES = [
    ("preset: auth0\ndomain: acme.us.auth0.com",
     "https://acme.us.auth0.com/", "https://acme.us.auth0.com/api/v2/",
     "https://acme.us.auth0.com/.well-known/jwks.json", ("RS256",)),
    ("preset: cognito\nregion: eu-west-1\nuser_pool_id: eu-west-1_AbC",
     "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", None,
     "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json",
     ("RS256",)),
    ("preset: clerk\nfrontend_api: clerk.example.com",
     "https://clerk.example.com", None, "https://clerk.example.com/.well-known/jwks.json",
     ("RS256",)),
    ("preset: firebase\nproject_id: my-app",
     "https://securetoken.google.com/my-app", "my-app",
     "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
     ("RS256",)),
    ("preset: google\nclient_id: 123.apps.googleusercontent.com",
     "https://accounts.google.com", "123.apps.googleusercontent.com",
     "https://www.googleapis.com/oauth2/v3/certs", ("RS256",)),
    ("preset: okta\ndomain: acme.okta.com",
     "https://acme.okta.com/oauth2/default", "api://default",
     "https://acme.okta.com/oauth2/default/v1/keys", ("RS256",)),
    ("preset: okta\ndomain: acme.okta.com\nauthorization_server: aus1",
     "https://acme.okta.com/oauth2/aus1", "api://default",
     "https://acme.okta.com/oauth2/aus1/v1/keys", ("RS256",)),
    ("preset: azure-ad\ntenant_id: 9188040d\naudience: api://orders",
     "https://login.microsoftonline.com/9188040d/v2.0", "api://orders",
     "https://login.microsoftonline.com/9188040d/discovery/v2.0/keys", ("RS256",)),
]


@pytest.mark.parametrize(("lines", "issuer", "audience", "jwks_url", "algorithms"), CASES)
def test_preset_expands_to_the_provider_written_by_hand(
    tmp_path: Path, lines: str, issuer: str, audience: str | None, jwks_url: str,
    algorithms: tuple[str, ...],
) -> None:
    idp = provider(tmp_path, lines)
    assert (idp.issuer, idp.audience, idp.jwks_url, idp.algorithms) == (
        issuer, audience, jwks_url, algorithms)


def test_supabase_uses_the_secret_written_beside_it(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: supabase\nproject: abcd\nsecret: {env: SUPABASE_JWT}")
    assert idp.issuer == "https://abcd.supabase.co/auth/v1"
    assert idp.audience == "authenticated"
    assert idp.algorithms == ("HS256",)
    assert idp.secret is not None and idp.secret.env == "SUPABASE_JWT"
    assert idp.jwks_url is None


def test_github_actions_pins_the_owner_and_defaults_the_audience(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: github-actions\nowner: acme")
    assert idp.issuer == "https://token.actions.githubusercontent.com"
    assert idp.jwks_url == "https://token.actions.githubusercontent.com/.well-known/jwks"
    assert idp.audience == "https://github.com/acme"
    assert idp.require == {"$.repository_owner": "acme"}


def test_gitlab_pins_the_project_path(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: gitlab\nproject: acme/shop\naudience: https://t.example")
    assert (idp.issuer, idp.jwks_url) == ("https://gitlab.com",
                                          "https://gitlab.com/oauth/discovery/keys")
    assert idp.audience == "https://t.example"
    assert idp.require == {"$.project_path": "acme/shop"}


def test_fields_beside_the_preset_override_it(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: auth0\ndomain: acme.eu.auth0.com\n"
                             "audience: https://api.example.com/\nalgorithms: [RS256, PS256]\n"
                             "leeway: 10")
    assert idp.issuer == "https://acme.eu.auth0.com/"
    assert idp.audience == "https://api.example.com/"
    assert idp.algorithms == ("RS256", "PS256")
    assert idp.leeway == 10


def test_a_key_source_beside_the_preset_replaces_its_key_source(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: auth0\ndomain: acme.us.auth0.com\ndiscovery: true")
    assert idp.discovery is True and idp.jwks_url is None


def test_require_beside_the_preset_keeps_the_owner_pin(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: github-actions\nowner: acme\n"
                             "require: {$.repository: acme/deployer}")
    assert idp.require == {"$.repository_owner": "acme", "$.repository": "acme/deployer"}


def findings(tmp_path: Path, lines: str) -> list[tuple[str, int, int, str, str | None]]:
    result = checked(tmp_path, lines)
    assert not result.ok
    return [(d.code, d.location.line, d.location.column, d.message, d.hint)
            for d in result.diagnostics]


def test_a_missing_parameter_is_reported_at_the_preset_line(tmp_path: Path) -> None:
    # line 7 of the file is the `preset:` line (HEADER has 6 lines)
    assert findings(tmp_path, "preset: github-actions\naudience: x") == [
        ("E261", 7, 5, "preset github-actions needs the parameter `owner`", None)]


def test_an_unknown_preset_gets_a_did_you_mean(tmp_path: Path) -> None:
    assert findings(tmp_path, "preset: auht0\ndomain: acme.us.auth0.com") == [
        ("E260", 7, 13, "unknown preset 'auht0'", "did you mean 'auth0'?")]


def test_an_unknown_parameter_is_reported_on_its_own_line(tmp_path: Path) -> None:
    found = findings(tmp_path, "preset: auth0\ndomain: acme.us.auth0.com\nregion: eu")
    assert found == [("E262", 9, 5, "unknown parameter `region` for preset auth0 "
                      "(it takes domain)", None)]
    typo = findings(tmp_path, "preset: cognito\nregion: eu\nuser_pol_id: x")
    assert [(code, hint) for code, _, _, _, hint in typo] == [
        ("E261", None), ("E262", "did you mean 'user_pool_id'?")]


def test_a_misspelt_secret_beside_a_preset_is_not_echoed(tmp_path: Path) -> None:
    result = checked(tmp_path, "preset: supabase\nproject: abcd\nsecert: hunter2\nregion: eu")
    out = render_text(result.diagnostics, result.source_map)
    assert "hunter2" not in out
    assert "        secert: ***" in out.splitlines()
    assert "    hint: did you mean 'secret'?" in out.splitlines()
    assert "        region: eu" in out.splitlines()  # not a secret's name: shown whole


def test_a_parameter_must_be_a_non_empty_string(tmp_path: Path) -> None:
    assert [f[:2] for f in findings(tmp_path, "preset: auth0\ndomain: ''")] == [("E263", 8)]


def test_supabase_without_a_secret_says_what_to_add(tmp_path: Path) -> None:
    [(code, line, _, message, _)] = findings(tmp_path, "preset: supabase\nproject: abcd")
    assert (code, line) == ("E261", 7)
    assert "`secret`" in message and "SUPABASE_JWT_SECRET" in message


def test_a_later_finding_about_a_derived_field_points_at_the_preset(tmp_path: Path) -> None:
    # an HMAC algorithm with the preset's JWKS URL: the rule's finding lands on the user's lines
    result = checked(tmp_path, "preset: auth0\ndomain: acme.us.auth0.com\nalgorithms: [HS256]")
    assert result.errors
    assert all(7 <= d.location.line <= 9 for d in result.errors)


def test_json_schema_fragment_requires_each_presets_parameters() -> None:
    fragment = json_schema_fragment()
    schema = {"type": "object", "properties": fragment["properties"], "allOf": fragment["allOf"]}
    assert set(fragment["properties"]["preset"]["enum"]) == set(PRESETS)
    jsonschema.validate({"preset": "cognito", "region": "eu", "user_pool_id": "p"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"preset": "cognito", "region": "eu"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"preset": "nope"}, schema)


def test_supabase_with_asymmetric_keys_needs_no_secret(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: supabase\nproject: abcd\n"
                             "jwks_url: https://abcd.supabase.co/auth/v1/.well-known/jwks.json\n"
                             "algorithms: [ES256]")
    assert (idp.issuer, idp.audience, idp.algorithms) == (
        "https://abcd.supabase.co/auth/v1", "authenticated", ("ES256",))
    assert idp.secret is None
