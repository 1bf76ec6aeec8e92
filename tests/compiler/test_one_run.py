"""Every finding in one run: a schema error in one part never hides a mistake in another, and a
part the schema refused causes no finding of its own beyond its schema finding (no cascade).

Positions are exact: `at(text, needle)` is the line and column where `needle` is written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tokensmith.compiler.check import CheckResult, check_path

Found = list[tuple[str, int, int]]

HEAD = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main: {algorithm: HS256, secret: {env: MAIN_KEY}}
identity_providers:
  good:
    issuer: https://good.example.com/
    audience: api
    jwks_url: https://good.example.com/jwks.json
    algorithms: [RS256]
    mapping: {sub.$: $.sub}
"""

#: An identity provider with a misspelt field: the schema refuses it, and only it.
BROKEN_IDP = """\
  broken:
    issuer: https://broken.example.com/
    audience: api
    jwks_uri: https://broken.example.com/jwks.json
    algorithms: [RS256]
    mapping: {sub.$: $.sub, email.$: $.email}
"""

#: The README's config with the issue's two mistakes: `jwks_uri` and an unknown signing key.
TWO_MISTAKES = """\
version: 1
issuer: https://tokens.example.com/

signing_keys:
  sbk_main:
    algorithm: HS256
    secret: {env: TOKENSMITH_SIGNING_KEY}

identity_providers:
  auth0:
    issuer: https://example.us.auth0.com/
    audience: https://example.us.auth0.com/api/v2/
    jwks_uri: https://example.us.auth0.com/.well-known/jwks.json
    algorithms: [RS256]
    mapping:
      sub.$: $.sub
      email.$: $.email

token_providers:
  my-service:
    signing_key: sbk_mian
    expires_in: 1h
    identity_providers: [auth0]
    mapping:
      sub.$: $.sub
      email.$: $.email
      service: my-service
"""


def at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """(line, column), 1-based, of the `nth` occurrence of `needle` in `text`."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def run(tmp_path: Path, text: str) -> CheckResult:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(text, encoding="utf-8")
    return check_path(str(path))


def found(tmp_path: Path, text: str) -> Found:
    return [(d.code, d.location.line, d.location.column) for d in run(tmp_path, text).diagnostics]


# --- the case ---------------------------------------------------------------------------


def test_a_misspelt_field_and_an_unknown_signing_key_are_both_reported(tmp_path: Path) -> None:
    result = run(tmp_path, TWO_MISTAKES)
    got = [(d.code, d.location.line, d.location.column) for d in result.diagnostics]
    assert got == [("E200", 13, 5), ("E342", 21, 18)]
    assert got == [("E200", *at(TWO_MISTAKES, "jwks_uri")), ("E342", *at(TWO_MISTAKES, "sbk_mian"))]
    unknown, signing = result.diagnostics
    assert (unknown.message, unknown.hint) == (
        "identity_providers.auth0: unknown field 'jwks_uri'", "did you mean 'jwks_url'?"
    )
    assert "'sbk_mian'" in signing.message and signing.hint == "did you mean 'sbk_main'?"
    # nothing about `auth0` itself beyond its own finding: it is refused, not "unknown" (E343),
    # and the token provider's paths are not "produced by no identity provider" (E304)
    assert result.config is None and not result.ok


@pytest.mark.slow
def test_the_cli_prints_both_and_compile_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(TWO_MISTAKES, encoding="utf-8")
    check = _cli("check", "tokensmith.yaml", cwd=tmp_path)
    assert check.returncode == 1
    assert "tokensmith.yaml:13:5: E200 " in check.stdout
    assert "tokensmith.yaml:21:18: E342 " in check.stdout
    assert check.stderr == "2 errors, 0 warnings\n"
    compiled = _cli("compile", "tokensmith.yaml", "-o", "bundle", cwd=tmp_path)
    assert compiled.returncode == 1
    assert "E200" in compiled.stderr and "E342" in compiled.stderr
    assert not (tmp_path / "bundle").exists()


@pytest.mark.slow
def test_compile_refuses_a_config_whose_only_error_is_in_the_schema(tmp_path: Path) -> None:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(TWO_MISTAKES.replace("sbk_mian", "sbk_main"), encoding="utf-8")
    compiled = _cli("compile", "tokensmith.yaml", "-o", "bundle", cwd=tmp_path)
    assert compiled.returncode == 1
    assert "tokensmith.yaml:13:5: E200" in compiled.stderr
    assert not (tmp_path / "bundle").exists()


# --- no cascade from a refused part ------------------------------------------------------------


def test_a_token_provider_allowing_a_refused_provider_gets_no_unknown_provider(
    tmp_path: Path,
) -> None:
    text = HEAD + BROKEN_IDP + """\
token_providers:
  svc:
    signing_key: main
    identity_providers: [good, broken, nowhere]
    mapping: {sub.$: $.sub, email.$: $.email, who.$: sub}
"""
    assert found(tmp_path, text) == [
        ("E200", *at(text, "jwks_uri")),
        # a provider that is not defined at all is still unknown
        ("E343", *at(text, "nowhere")),
        # the valid provider does not produce `email`; the refused one may: a warning, no E304
        ("W301", *at(text, "email, who")),
        # and the token provider's own mapping is still checked
        ("E301", *at(text, "sub}\n", nth=2)),
    ]


def test_a_path_only_a_refused_provider_could_produce_is_not_e304(tmp_path: Path) -> None:
    text = HEAD + BROKEN_IDP + """\
token_providers:
  only-broken:
    signing_key: main
    identity_providers: [broken]
    mapping: {email.$: $.email}
  all:
    signing_key: main
    mapping: {sub.$: $.sub, groups.$: $.groups}
"""
    # `all` allows every provider: `good` lacks `groups` (W301), `broken` is unknown (no E304)
    assert found(tmp_path, text) == [
        ("E200", *at(text, "jwks_uri")),
        ("W301", *at(text, "groups", nth=2)),
    ]


def test_without_the_refused_provider_the_same_path_is_e304(tmp_path: Path) -> None:
    # the control: with `broken` fixed and producing nothing, `groups` is produced by no one
    text = HEAD + BROKEN_IDP.replace("jwks_uri", "jwks_url") + """\
token_providers:
  all:
    signing_key: main
    mapping: {sub.$: $.sub, groups.$: $.groups}
"""
    assert found(tmp_path, text) == [("E304", *at(text, "groups", nth=2))]


def test_a_refused_signing_key_is_not_unknown_to_its_token_provider(tmp_path: Path) -> None:
    text = HEAD.replace("algorithm: HS256", "algorithm: hs256") + """\
token_providers:
  svc:
    signing_key: main
    expires_in: 0
  other:
    signing_key: mian
"""
    assert found(tmp_path, text) == [
        ("E203", *at(text, "hs256")),
        ("E345", *at(text, "0\n")),
        ("E342", *at(text, "mian")),
    ]
    other = next(d for d in run(tmp_path, text).diagnostics if d.code == "E342")
    assert other.hint == "did you mean 'main'?"  # the refused key is still a name to suggest


def test_a_refused_token_provider_and_provider_are_known_to_the_tests(tmp_path: Path) -> None:
    text = HEAD + BROKEN_IDP + """\
token_providers:
  svc:
    signing_key: main
    claims: acts
tests:
  - name: refused service
    service: svc
    token: {iss: https://good.example.com/, aud: api, sub: u1}
    expect: {identity_provider: broken}
  - name: unknown service
    service: nosuch
    token: {sub: u1}
    expect: {error: invalid_target}
"""
    assert found(tmp_path, text) == [
        ("E200", *at(text, "jwks_uri")),
        ("E203", *at(text, "acts")),
        ("E360", *at(text, "nosuch")),
    ]


def test_a_refused_test_leaves_the_later_tests_checked_at_their_own_lines(
    tmp_path: Path,
) -> None:
    text = HEAD + """\
token_providers:
  svc: {signing_key: main}
tests:
  - name: first
    service: svc
    token: {sub: u1}
    expect: {claims: {sub: u1}, claims_subset: {sub: u1}}
  - name: refused
    service: svc
    token: [not, a, mapping]
    expect: {error: invalid_request}
  - name: third
    service: nosuch
    token: {sub: u1}
    expect: {}
"""
    assert found(tmp_path, text) == [
        ("E362", *at(text, "claims_subset")),
        ("E202", *at(text, "[not")),
        ("E360", *at(text, "nosuch")),
        ("E363", *at(text, "expect", nth=3)),
    ]


# --- top-level fields and sections -------------------------------------------------------------


def test_a_wrong_version_does_not_hide_a_reference_error(tmp_path: Path) -> None:
    text = HEAD.replace("version: 1", "version: 2") + """\
token_providers:
  svc: {signing_key: mian}
"""
    assert found(tmp_path, text) == [("E203", 1, 10), ("E342", *at(text, "mian"))]


def test_a_refused_issuer_is_not_compared_but_the_services_issuers_are(tmp_path: Path) -> None:
    text = HEAD.replace("issuer: https://tokens.example.com/", "issuer: [a]") + """\
  loop:
    issuer: https://svc.example.com/
    audience: api2
    jwks_url: https://svc.example.com/jwks.json
    algorithms: [RS256]
token_providers:
  svc: {signing_key: main, issuer: https://svc.example.com/}
"""
    assert found(tmp_path, text) == [
        ("E202", 2, 9),
        ("E353", *at(text, "https://svc.example.com/")),
    ]


def test_a_missing_issuer_does_not_hide_the_rules(tmp_path: Path) -> None:
    text = HEAD.replace("issuer: https://tokens.example.com/\n", "") + """\
token_providers:
  svc: {signing_key: main, expires_in: 2d}
"""
    assert found(tmp_path, text) == [("E201", 1, 1), ("W320", *at(text, "2d"))]


def test_the_entries_of_a_misspelt_section_are_not_unknown(tmp_path: Path) -> None:
    text = HEAD.replace("signing_keys:", "signing_key:") + """\
token_providers:
  svc: {signing_key: main, identity_providers: [good]}
  other: {signing_key: mian}
"""
    got = run(tmp_path, text).diagnostics
    assert [(d.code, d.location.line, d.location.column) for d in got] == [
        ("E200", 3, 1),
        ("E342", *at(text, "mian")),  # `mian` is not under `signing_key:` either
    ]
    assert got[0].hint == "did you mean 'signing_keys'?"


def test_a_section_that_is_not_a_mapping_makes_no_name_unknown(tmp_path: Path) -> None:
    text = HEAD.split("identity_providers:")[0] + """\
identity_providers: [good]
token_providers:
  svc: {signing_key: main, identity_providers: [good], expires_in: -1}
tests:
  - {name: t, service: svc, token: {sub: a}, expect: {identity_provider: good}}
"""
    assert found(tmp_path, text) == [
        ("E202", *at(text, "[good]")),
        ("E345", *at(text, "-1")),
    ]


def test_a_preset_error_in_one_provider_does_not_hide_the_others(tmp_path: Path) -> None:
    text = HEAD + """\
  ci:
    preset: github-actions
    ownr: my-org
  plain:
    issuer: https://plain.example.com/
    jwks_url: https://plain.example.com/jwks.json
    algorithms: [RS256]
    leeway: 900
token_providers:
  svc: {signing_key: main, identity_providers: [ci, plain]}
"""
    codes = found(tmp_path, text)
    assert ("E262", *at(text, "ownr")) in codes
    assert ("E328", *at(text, "900")) in codes
    # the preset's provider is refused: not unknown to `svc`, and no schema finding of its own
    assert {c for c, _, _ in codes} == {"E261", "E262", "E328"}


# --- directories ------------------------------------------------------------------------------


def test_every_file_may_state_the_same_version(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "version: 1\ntoken_providers:\n  svc: {signing_key: main}\n", encoding="utf-8"
    )
    (tmp_path / "c.yml").write_text("version: 1\ntests: []\n", encoding="utf-8")
    result = check_path(str(tmp_path))
    assert result.diagnostics == ()
    assert result.ok and result.config is not None
    assert result.source_map.value(("version",)).file == str(tmp_path / "a.yaml")


def test_different_versions_name_both_places_and_hide_nothing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(HEAD, encoding="utf-8")
    b.write_text("# services\nversion: 2\ntoken_providers:\n  svc: {signing_key: mian}\n",
                 encoding="utf-8")
    result = check_path(str(tmp_path))
    got = [(d.code, d.location.file, d.location.line, d.location.column)
           for d in result.diagnostics]
    assert got == [("E113", str(b), 2, 10), ("E342", str(b), 4, 22)]
    assert f"{a}:1:10 states version 1" in result.diagnostics[0].message
    assert "this file states version 2" in result.diagnostics[0].message
    assert result.config is None and not result.ok


def test_a_version_is_compared_strictly(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("version: '1'\n", encoding="utf-8")
    result = check_path(str(tmp_path))
    assert [d.code for d in result.diagnostics] == ["E113"]
    assert "states version '1'" in result.diagnostics[0].message


def test_a_name_in_two_files_does_not_hide_the_rules(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "signing_keys:\n  main: {algorithm: HS512, secret: {env: OTHER}}\n"
        "token_providers:\n  svc: {signing_key: main, expires_in: 0}\n",
        encoding="utf-8",
    )
    result = check_path(str(tmp_path))
    assert [d.code for d in result.diagnostics] == ["E107", "E345"]
    assert result.config is None and not result.ok


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )
