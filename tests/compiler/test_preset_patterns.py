"""CI presets' pattern parameters (`branches`, `environments`) become `require` conditions, and
those conditions admit and refuse the tokens a reader of the config expects, run through
`tokensmith test` (the runtime's own exchange decision on compiled code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokensmith.cli import main

from .test_presets import checked, findings, provider

NOW = "1767225600"


def test_github_branches_and_environments_become_conditions(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: github-actions\nowner: acme\n"
                             "branches: [main, 'release/*']\nenvironments: production")
    assert idp.require == {
        "$.repository_owner": "acme",
        "$.environment": ["production"],
        "all_of": [{"any_of": [{"$.ref": "refs/heads/main"},
                               {"$.ref": {"glob": "refs/heads/release/*"}}]}],
    }
    idp = provider(tmp_path, "preset: github-actions\nowner: acme\nbranches: 'release/*'")
    assert idp.require == {"$.repository_owner": "acme",
                           "$.ref": {"glob": "refs/heads/release/*"}}
    idp = provider(tmp_path, "preset: github-actions\nowner: acme\nbranches: [main, dev]")
    assert idp.require == {"$.repository_owner": "acme",
                           "$.ref": ["refs/heads/main", "refs/heads/dev"]}


def test_gitlab_branches_must_be_branches_not_tags(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: gitlab\nproject: acme/shop\naudience: https://t.example\n"
                             "branches: [main]")
    assert idp.require == {"$.project_path": "acme/shop", "$.ref_type": "branch",
                           "$.ref": ["main"]}


def test_the_users_all_of_is_joined_not_replaced(tmp_path: Path) -> None:
    idp = provider(tmp_path, "preset: github-actions\nowner: acme\nbranches: [main, 'v*']\n"
                             "require: {all_of: [{$.actor: alice}]}")
    assert idp.require is not None
    assert idp.require["all_of"] == [
        {"$.actor": "alice"},
        {"any_of": [{"$.ref": "refs/heads/main"}, {"$.ref": {"glob": "refs/heads/v*"}}]},
    ]


@pytest.mark.parametrize("value", ["[]", "''", "[main, 3]", "{a: b}", "[main, '']"])
def test_a_pattern_parameter_is_a_string_or_a_list_of_them(tmp_path: Path, value: str) -> None:
    [(code, line, column, message, hint)] = findings(
        tmp_path, f"preset: github-actions\nowner: acme\nbranches: {value}")
    assert (code, line, column) == ("E263", 9, 15)
    assert message == "preset parameter `branches` must be a non-empty string or a list of them"
    assert hint == "e.g. `branches: [main, 'release/*']`"


def test_environments_is_not_a_gitlab_parameter(tmp_path: Path) -> None:
    result = checked(tmp_path, "preset: gitlab\nproject: a/b\naudience: x\nenvironments: [p]")
    assert [d.code for d in result.diagnostics] == ["E262"]


CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k: {algorithm: HS256, secret: {env: K}}
identity_providers:
  github:
    preset: github-actions
    owner: acme
    branches: [main, 'release/*']
    environments: [production, 'staging-*']
    mapping: {sub.$: $.sub}
  gitlab:
    preset: gitlab
    project: acme/shop
    audience: https://tokens.example.com/
    branches: main
    mapping: {sub.$: $.sub}
token_providers:
  deploy: {signing_key: k}
tests:
"""
GITHUB = ("{iss: https://token.actions.githubusercontent.com, aud: https://github.com/acme, "
          "sub: s, repository_owner: acme, ref: %s, environment: %s}")
GITLAB = ("{iss: https://gitlab.com, aud: https://tokens.example.com/, sub: s, "
          "project_path: acme/shop, ref: %s, ref_type: %s}")
CASES = [
    ("main to production", GITHUB % ("refs/heads/main", "production"), "github"),
    ("a release branch to staging", GITHUB % ("refs/heads/release/2.1", "staging-eu"), "github"),
    ("a feature branch", GITHUB % ("refs/heads/feature/x", "production"), "condition_failed"),
    ("a tag named main", GITHUB % ("refs/tags/main", "production"), "condition_failed"),
    ("a branch named like the pattern's prefix",
     GITHUB % ("refs/heads/release", "production"), "condition_failed"),
    ("another environment", GITHUB % ("refs/heads/main", "dev"), "condition_failed"),
    ("no environment", GITHUB.replace(", environment: %s", "") % "refs/heads/main",
     "condition_failed"),
    ("gitlab main", GITLAB % ("main", "branch"), "gitlab"),
    ("a gitlab tag named main", GITLAB % ("main", "tag"), "condition_failed"),
    ("another gitlab branch", GITLAB % ("dev", "branch"), "condition_failed"),
]


def test_the_conditions_admit_and_refuse_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = ""
    for name, token, outcome in CASES:
        expect = ("{error: condition_failed}" if outcome == "condition_failed"
                  else f"{{identity_provider: {outcome}}}")
        cases += f"  - name: {name}\n    service: deploy\n    token: {token}\n" \
                 f"    expect: {expect}\n"
    path = tmp_path / "tokensmith.yaml"
    path.write_text(CONFIG + cases)
    code = main(["test", str(path), "--now", NOW])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert out.out.splitlines()[-1] == f"{len(CASES)} passed, 0 failed"
