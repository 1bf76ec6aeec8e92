"""What `tokensmith check` says about configs an attacker could use: paths users can steer, and
audience-only trust in keys that every customer of a CI platform shares.

Supabase puts `user_metadata` at the top level of its tokens, and every signed-in user can write
it (`supabase.auth.updateUser({data: ...})`). A path that selects members the author did not name
(`..`, `*`, unions, filters) therefore lets the user choose the value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.compiled_world import (
    base_config,
    compiled_service,
    exchange_for,
    upstream_token,
)
from tokensmith.compiler.check import check_path


def codes(tmp_path: Path, require: dict[str, object]) -> list[str]:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(base_config({"sub.$": "$.sub"}, {"sub.$": "$.sub"}, require=require))
    return [d.code for d in check_path(str(path)).diagnostics]


def test_recursive_descent_in_a_condition_is_warned_about(tmp_path: Path) -> None:
    assert "W303" in codes(tmp_path, {"$..email_verified": True})


@pytest.mark.parametrize(
    "path", ["$.*.email_verified", "$[*].email_verified", "$['app_metadata','user_metadata'].role"]
)
def test_a_condition_through_a_root_wildcard_is_warned_about(tmp_path: Path, path: str) -> None:
    assert "W303" in codes(tmp_path, {path: True})


def test_the_wildcard_condition_is_met_by_user_metadata(tmp_path: Path) -> None:
    """Why the warning matters: the user's own metadata satisfies the condition."""
    text = base_config({"sub.$": "$.sub"}, {"sub.$": "$.sub"}, require={"$.*.verified": True})
    service = compiled_service(tmp_path, text)
    user_written = {"app_metadata": {"verified": False}, "user_metadata": {"verified": True}}
    issued = exchange_for(service, upstream_token(**user_written), "svc")
    assert issued.claims["act"] == {"sub": "user-1"}


SHARED_PLATFORM_KEYS = {
    "GitHub Actions": "https://token.actions.githubusercontent.com/.well-known/jwks",
    "GitLab.com": "https://gitlab.com/oauth/discovery/keys",
    "HCP Terraform": "https://app.terraform.io/.well-known/jwks",
}


def _audience_only(tmp_path: Path, jwks_url: str) -> list[str]:
    config = json.loads(base_config({"sub.$": "$.sub"}, {"sub.$": "$.sub"}))
    config["identity_providers"]["upstream"] = {
        "audience": "my-deploy-audience",
        "jwks_url": jwks_url,
        "algorithms": ["RS256"],
        "mapping": {"sub.$": "$.sub"},
    }
    path = tmp_path / "tokensmith.yaml"
    path.write_text(json.dumps(config))
    return [d.code for d in check_path(str(path)).errors]


def test_a_shared_ci_issuer_without_audience_or_condition_is_refused(tmp_path: Path) -> None:
    config = json.loads(base_config({"sub.$": "$.sub"}, {"sub.$": "$.sub"}))
    config["identity_providers"]["upstream"] = {
        "issuer": "https://token.actions.githubusercontent.com",
        "jwks_url": SHARED_PLATFORM_KEYS["GitHub Actions"],
        "algorithms": ["RS256"],
        "mapping": {"sub.$": "$.sub"},
    }
    path = tmp_path / "tokensmith.yaml"
    path.write_text(json.dumps(config))
    assert {"E351", "E352"} <= {d.code for d in check_path(str(path)).errors}


@pytest.mark.parametrize("platform", sorted(SHARED_PLATFORM_KEYS))
def test_an_audience_only_provider_on_a_shared_ci_platforms_keys_is_refused(
    tmp_path: Path, platform: str
) -> None:
    assert _audience_only(tmp_path, SHARED_PLATFORM_KEYS[platform])
