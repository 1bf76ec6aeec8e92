"""Mapping checks through the real `check` pipeline: each code at its exact line and column."""

from __future__ import annotations

from pathlib import Path

from tokensmith.compiler.check import check_path
from tokensmith.schema.diagnostics import Diagnostic

HEAD = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k:
    algorithm: HS256
    secret: {env: K}
"""

IDPS = """\
identity_providers:
  auth0:
    issuer: https://a.example.com/
    audience: api
    jwks_url: https://a.example.com/jwks.json
    algorithms: [RS256]
    mapping:
      sub.$: $.sub
      email.$: $.email
      groups.$: $.groups
  other:
    issuer: https://b.example.com/
    audience: api
    jwks_url: https://b.example.com/jwks.json
    algorithms: [RS256]
    mapping:
      sub.$: $.sub
      email.$: $.email
"""


def _mapping_findings(tmp_path: Path, text: str) -> list[Diagnostic]:
    config = tmp_path / "tokensmith.yaml"
    config.write_text(text, encoding="utf-8")
    result = check_path(str(config))
    assert result.config is not None, result.diagnostics
    return [d for d in result.diagnostics if d.code[1:3] == "30"]


def _placed(findings: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.column) for d in findings]


def test_a_clean_config_has_no_mapping_finding(tmp_path: Path) -> None:
    tps = """\
token_providers:
  svc:
    signing_key: k
    mapping: {sub.$: $.sub, who.$: $$.identity_provider, service: svc}
"""
    assert _mapping_findings(tmp_path, HEAD + IDPS + tps) == []


def test_each_mapping_error_is_located_at_the_offending_character(tmp_path: Path) -> None:
    text = HEAD + IDPS.replace(
        "      groups.$: $.groups\n",
        "      groups.$: $.groups\n"
        "      bad.$: '$.a b'\n"  # line 17: E300, quoted: caret on `b`
        '      bad2.$: "$.ä"\n'  # line 18: E300 on `ä`
        "      bad3.$: $.x[\n"  # line 19: E300 at the end
        "      num.$: 42\n"  # line 20: E301
        "      word.$: sub\n"  # line 21: E301 did you mean $.sub
        "      .$: $.sub\n"  # line 22: E302
        "      email: x\n"  # line 23: E303 (email.$ above)
        "      ctx.$: $$.servce\n"  # line 24: E305 on `servce`
        "      deep.$: $..role\n"  # line 25: W303 on `..`
        "      any.$: $['app_metadata','user_metadata'].role\n"  # line 26: W303 on the union
        "      teams.$: $.teams[:].name\n",  # a slice: no finding
    )
    findings = _mapping_findings(tmp_path, text)
    assert _placed(findings) == [
        ("E300", 17, 19),
        ("E300", 18, 18),
        ("E300", 19, 19),
        ("E301", 20, 14),
        ("E301", 21, 15),
        ("E302", 22, 7),
        ("E303", 23, 7),
        ("E305", 24, 17),
        ("W303", 25, 16),
        ("W303", 26, 15),
    ]
    by_code = {d.code: d for d in findings}
    assert "unexpected character 'ä'" in findings[1].message
    assert findings[3].hint == "to keep a constant, drop `.$`: `num: ...`"
    assert findings[4].hint == "did you mean '$.sub'?"
    assert "tokensmith.yaml:15:7" in by_code["E303"].message  # names the first key
    assert by_code["E305"].hint == "did you mean 'service'?"


def test_token_provider_paths_must_be_produced_by_an_allowed_provider(tmp_path: Path) -> None:
    tps = """\
token_providers:
  svc:
    signing_key: k
    mapping:
      sub.$: $.sub
      mail.$: $.emial
      groups.$: $.groups[*]
  only-auth0:
    signing_key: k
    identity_providers: [auth0]
    mapping:
      groups.$: $.groups
"""
    findings = _mapping_findings(tmp_path, HEAD + IDPS + tps)
    assert _placed(findings) == [("E304", 30, 17), ("W301", 31, 19)]
    error, warning = findings
    assert error.hint == "did you mean 'email'?"
    assert "'emial'" in error.message
    assert "'other'" in warning.message and "'auth0'" not in warning.message


def test_reserved_claims_at_the_root_and_warnings_on_risky_mappings(tmp_path: Path) -> None:
    tps = """\
token_providers:
  root-svc:
    signing_key: k
    claims: root
    mapping:
      sub.$: $.sub
      exp: 1
      act: {iss: nested is fine}
  act-svc:
    signing_key: k
    mapping:
      iss: fine under act
      copy: $.email
      sub.$: $.email
      price: $
"""
    findings = _mapping_findings(tmp_path, HEAD + IDPS + tps)
    assert _placed(findings) == [("E306", 31, 7), ("W300", 37, 7), ("W302", 38, 14)]
    assert findings[1].hint == "did you mean `copy.$`?"
    assert "`email`" in findings[2].message


def test_require_keys_are_checked_for_context_names_and_recursive_descent(
    tmp_path: Path,
) -> None:
    idps = IDPS.replace(
        "    algorithms: [RS256]\n    mapping:\n      sub.$: $.sub\n      email.$: $.email\n"
        "      groups.$",
        "    algorithms: [RS256]\n    require:\n      $$.svc: x\n      '$..verified': true\n"
        "      $.tier: []\n"
        "      $.*.verified: true\n"
        "      $.teams[:].admin: true\n"
        "    mapping:\n      sub.$: $.sub\n      email.$: $.email\n      groups.$",
    )
    findings = _mapping_findings(tmp_path, HEAD + idps)
    assert _placed(findings) == [
        ("E305", 14, 10),
        ("W303", 15, 9),
        ("E307", 16, 15),
        ("W303", 17, 9),
    ]
    assert "does not name" in findings[3].message
