"""The pieces behind the rules: loopback hosts, origins, shared issuers, the rule runner's hook
for mapping checks, presets seen through the rules, and that every code is documented and has
a fixture."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tokensmith.compiler import rules
from tokensmith.compiler.check import check_path
from tokensmith.compiler.rules._common import Suggestions
from tokensmith.compiler.rules._tenants import GITHUB_ACTIONS, GOOGLE, multi_tenant_issuer
from tokensmith.compiler.rules._urls import is_loopback_host, origin_problem
from tokensmith.reporters import render, render_text
from tokensmith.schema import codes_doc
from tokensmith.schema.codes import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "compiler" / "rules"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("128.0.0.1", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com",
        "https://app.example.com:8443",
        "http://localhost:3000",
        "http://127.0.0.1:5173",
        "http://[::1]:8080",
    ],
)
def test_origins_accepted(origin: str) -> None:
    assert origin_problem(origin) is None


@pytest.mark.parametrize(
    ("origin", "why"),
    [
        ("https://app.example.com/", "path"),
        ("https://app.example.com/login", "path"),
        ("https://app.example.com?x=1", "path"),
        ("https://app.example.com#top", "path"),
        ("http://app.example.com", "http"),
        ("app.example.com", "form"),
        ("ftp://app.example.com", "scheme"),
        ("https://user:pw@app.example.com", "password"),
        ("https://app.example.com:99999", "form"),
    ],
)
def test_origins_refused_with_the_reason(origin: str, why: str) -> None:
    problem = origin_problem(origin)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        ("https://token.actions.githubusercontent.com", GITHUB_ACTIONS),
        ("https://token.actions.githubusercontent.com/", GITHUB_ACTIONS),
        ("HTTPS://Token.Actions.GithubUserContent.com", GITHUB_ACTIONS),
        ("accounts.google.com", GOOGLE),
        ("https://accounts.google.com/", GOOGLE),
        ("https://token.actions.githubusercontent.com/my-enterprise", None),
        ("https://acme.us.auth0.com/", None),
        (None, None),
    ],
)
def test_shared_issuers_are_recognised(issuer: str | None, expected: object) -> None:
    assert multi_tenant_issuer(issuer) is expected


def test_firebase_issuers_are_recognised_by_prefix() -> None:
    found = multi_tenant_issuer("https://securetoken.google.com/any-project")
    assert found is not None and "Firebase" in found.label


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


_BASE = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main: {algorithm: HS256, secret: {env: K}}
token_providers:
  api: {signing_key: main}
identity_providers:
"""


def test_presets_satisfy_the_shared_issuer_rules(tmp_path: Path) -> None:
    # The github-actions preset derives an audience and an owner condition; firebase an audience.
    text = _BASE + (
        "  gh: {preset: github-actions, owner: my-org, require: {$.ref: refs/heads/main}}\n"
        "  fb: {preset: firebase, project_id: my-project}\n"
    )
    assert check_path(_write(tmp_path, text)).diagnostics == ()


def test_a_preset_field_overridden_badly_is_reported_at_the_users_line(tmp_path: Path) -> None:
    text = _BASE + "  gh: {preset: github-actions, owner: my-org, jwks_url: http://x.test/}\n"
    found = check_path(_write(tmp_path, text)).diagnostics
    assert [(d.code, d.location.line) for d in found] == [("E330", 8)]


def test_mapping_checks_are_called_by_run_rules(tmp_path: Path) -> None:
    text = _BASE + (
        "  acme:\n"
        "    issuer: https://login.acme.test/\n"
        "    jwks_url: https://login.acme.test/jwks.json\n"
        "    algorithms: [RS256]\n"
        "    mapping: {sub.$: '$.sub['}\n"
    )
    codes = [d.code for d in check_path(_write(tmp_path, text)).diagnostics]
    assert codes and all(code.startswith("E30") for code in codes)


def test_a_missing_mapping_checks_module_is_tolerated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "_MAPPING_CHECKS", "tokensmith.compiler.mappings.no_such_module")
    assert rules._mapping_checks() is None


def test_a_broken_mapping_checks_module_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_checks_for_test.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(rules, "_MAPPING_CHECKS", "broken_checks_for_test")
    monkeypatch.delitem(sys.modules, "broken_checks_for_test", raising=False)
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        rules._mapping_checks()


def _rule_codes() -> set[str]:
    """The catalogued codes the rule modules import to build their findings."""
    codes: set[str] = set()
    for module in RULES_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "tokensmith.schema.codes":
                codes |= {alias.name for alias in node.names if alias.name in CATALOGUE}
    return codes


def test_every_rule_code_is_documented_and_has_a_fixture() -> None:
    codes = _rule_codes()
    assert len(codes) >= 39
    docs = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    fixtures = {
        p.name.split("_")[0] for p in (ROOT / "tests" / "fixtures" / "rules").glob("*.yaml")
    }
    assert sorted(c for c in codes if codes_doc.row(CATALOGUE[c]) not in docs) == []
    assert sorted(codes - fixtures) == []


def test_two_files_defining_overlapping_providers_name_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        _BASE + "  acme:\n"
        "    issuer: https://login.acme.test/\n"
        "    audience: api\n"
        "    jwks_url: https://login.acme.test/jwks.json\n"
        "    algorithms: [RS256]\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "identity_providers:\n"
        "  acme-again:\n"
        "    issuer: https://login.acme.test/\n"
        "    jwks_url: https://login.acme.test/jwks.json\n"
        "    algorithms: [RS256]\n",
        encoding="utf-8",
    )
    found = check_path(str(tmp_path)).diagnostics
    assert [(d.code, Path(d.location.file).name, d.location.line) for d in found] == [
        ("E350", "b.yaml", 3)
    ]
    assert f"{tmp_path / 'a.yaml'}:8:3" in found[0].message


def test_suggestions_are_memoised_and_bounded() -> None:
    suggest = Suggestions([f"idp-{i}" for i in range(100)], "no such name", budget=2)
    assert suggest.hint("idp-1x") == "did you mean 'idp-1'?"
    assert suggest.hint("zzz") == "no such name"
    assert suggest.hint("idp-2x") == "no such name"  # over budget: no more comparisons
    assert suggest.hint("idp-1x") == "did you mean 'idp-1'?"  # remembered


def test_private_and_symmetric_key_material_in_an_inline_jwks_is_not_echoed(
    tmp_path: Path,
) -> None:
    text = _BASE + (
        "  acme:\n"
        "    issuer: https://login.acme.test/\n"
        "    algorithms: [RS256]\n"
        "    jwks:\n"
        "      keys:\n"
        "        - {kty: oct, k: c3VwZXJzZWNyZXQ}\n"
        "        - kty: RSA\n"
        "          e: AQAB\n"
        "          d: cHJpdmF0ZQ\n"
    )
    result = check_path(_write(tmp_path, text))
    out = render_text(result.diagnostics, result.source_map)
    assert [d.code for d in result.diagnostics] == ["E336", "E335"]
    assert "c3VwZXJzZWNyZXQ" not in out and "cHJpdmF0ZQ" not in out
    assert "            - {kty: oct, k: ***" in out.splitlines()
    assert "              d: ***" in out.splitlines()


@pytest.mark.parametrize(
    ("expires_in", "code"),
    [("999999999d", "W320"), (86400 * 999_999_999, "W320"), (10**30, "E344")],
)
def test_expires_in_in_seconds_is_bounded_like_the_written_form(
    tmp_path: Path, expires_in: object, code: str
) -> None:
    provider = f"api: {{signing_key: main, expires_in: {expires_in}}}"
    text = _BASE.replace("api: {signing_key: main}", provider) + "  {}\n"
    assert [d.code for d in check_path(_write(tmp_path, text)).diagnostics] == [code]


def test_credentials_in_key_urls_and_origins_are_never_repeated(tmp_path: Path) -> None:
    text = _BASE.replace("identity_providers:\n", (
        "cors: {allow_origins: ['https://bob:pa55word@app.example.com']}\n"
        "identity_providers:\n"
        "  acme:\n"
        "    issuer: https://login.acme.test/\n"
        "    algorithms: [RS256]\n"
        "    jwks_url: ftp://user:hunter2@login.acme.test/jwks\n"
    ))
    result = check_path(_write(tmp_path, text))
    assert sorted(d.code for d in result.diagnostics) == ["E330", "E356"]
    for fmt in ("text", "json", "github", "sarif"):
        out = render(fmt, result.diagnostics, result.source_map)
        assert "hunter2" not in out and "pa55word" not in out
    assert "entry 0 holds a user name or password" in render_text(
        result.diagnostics, result.source_map
    )


def test_long_values_are_shortened_in_messages(tmp_path: Path) -> None:
    provider = "api: {signing_key: main, expires_in: " + "9" * 400 + "}"
    text = _BASE.replace("api: {signing_key: main}", provider) + "  {}\n"
    [found] = check_path(_write(tmp_path, text)).diagnostics
    assert found.code == "E344"
    assert "9" * 57 + "..." in found.message and len(found.message) < 160
