"""`tokensmith import statebacked`: a State Backed setup becomes a config that checks and issues
the same claims, through the real CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest

from tokensmith import __version__
from tokensmith.cli import main
from tokensmith.review.outcome import evaluate, prepare_index
from tokensmith.review.prepared import prepare
from tokensmith.schema.loader import load_config_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "statebacked"
IDPS = str(FIXTURES / "idps.json")
TOKEN_PROVIDERS = str(FIXTURES / "token-providers.json")
NOW = 1_767_225_600
SUPABASE_SECRET = b"supabase-jwt-secret-of-at-least-32-bytes"


@pytest.fixture()
def imported(tmp_path: Path) -> Path:
    out = tmp_path / "imported"
    code = main(["import", "statebacked", "--idps", IDPS, "--token-providers", TOKEN_PROVIDERS,
                 "-o", str(out)])
    assert code == 0
    return out


@pytest.mark.slow
def test_the_imported_config_passes_check_through_the_real_cli(imported: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tokensmith", "check", str(imported)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " E" not in done.stdout  # warnings at most, no error code


def test_secrets_become_env_references_with_what_to_set(imported: Path) -> None:
    text = (imported / "tokensmith.yaml").read_text()
    data = load_config_source(str(imported)).data
    supabase = data["identity_providers"]["abcdefghijkl.supabase.co"]
    assert supabase["secret"] == {"env": "ABCDEFGHIJKL_SUPABASE_CO_KEY", "encoding": "base64url"}
    assert data["signing_keys"]["sbk_nXzdtCxESemgtxS5JX-LrA"] == {
        "algorithm": "HS256", "secret": {"env": "TOKENSMITH_SBK_NXZDTCXESEMGTXS5JX_LRA"}}
    header = text.split("version: 1")[0]
    assert "#   ABCDEFGHIJKL_SUPABASE_CO_KEY:" in header
    assert "#   TOKENSMITH_SBK_NXZDTCXESEMGTXS5JX_LRA: the secret (sbsec_...)" in header


def test_provider_names_come_from_the_issuer_host_and_are_unique(imported: Path) -> None:
    names = list(load_config_source(str(imported)).data["identity_providers"])
    assert names == [
        "acme.us.auth0.com",
        "abcdefghijkl.supabase.co",
        "org_uHvZHpF4STWvMg8BKVCUTg.anonymous.auth.statebacked.dev",
        "cognito-idp.us-east-1.amazonaws.com-us-east-1_Abc",
        "cognito-idp.us-east-1.amazonaws.com-us-east-1_Xyz",
    ]


# What State Backed issues: the token provider mapping applied to the identity provider
# mapping's output, under `act` (`docs/review-and-debug.md`, `import statebacked`), worked out
# by hand.
SAME_CLAIMS = [
    ("my-service",
     {"iss": "https://acme.us.auth0.com/", "aud": ["https://acme.us.auth0.com/api/v2/", "x"],
      "sub": "auth0|alice", "email": "alice@example.com", "app_metadata": {"role": "admin"}},
     {"sub": "auth0|alice", "email": "alice@example.com", "service": "my-service",
      "special": {"role": "admin", "provider": "auth0"}}),
    ("my-service",
     {"iss": "https://abcdefghijkl.supabase.co/auth/v1", "aud": "authenticated", "sub": "u-2",
      "email": "bob@example.com", "role": "authenticated"},
     {"sub": "u-2", "email": "bob@example.com", "service": "my-service",
      "special": {"provider": "supabase"}}),
    ("my-service",
     {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc", "sub": "c-3",
      "cognito:groups": ["admins"]},
     {"sub": "c-3", "service": "my-service", "special": {}}),
    ("anonymous-statebacked-dev",
     {"iss": "https://org_uHvZHpF4STWvMg8BKVCUTg.anonymous.auth.statebacked.dev",
      "aud": "https://org_uHvZHpF4STWvMg8BKVCUTg.anonymous.auth.statebacked.dev",
      "sid": "s-1", "did": "d-1"},
     {"sid": "s-1", "did": "d-1", "auth": "anonymous"}),
]


@pytest.mark.parametrize(("service", "token", "act"), SAME_CLAIMS)
def test_exchanges_give_the_claims_state_backed_gives(
    imported: Path, service: str, token: dict[str, Any], act: dict[str, Any]
) -> None:
    prepared = prepare(str(imported), version=__version__)
    assert prepared.bundle is not None
    outcome = evaluate(prepared.bundle, prepare_index(prepared.bundle), token, service, NOW)
    assert outcome.issued, outcome.summary()
    assert outcome.mapped_claims == {"act": act}


def test_the_base64url_key_verifies_what_supabase_signed(
    imported: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # State Backed stored the key base64url-encoded; the env var holds that same text
    encoded = base64.urlsafe_b64encode(SUPABASE_SECRET).decode().rstrip("=")
    monkeypatch.setenv("ABCDEFGHIJKL_SUPABASE_CO_KEY", encoded)
    claims = {"iss": "https://abcdefghijkl.supabase.co/auth/v1", "aud": "authenticated",
              "sub": "u-2", "exp": NOW + 600}
    token = jwt.encode(claims, SUPABASE_SECRET, algorithm="HS256")
    code = main(["explain", str(imported), "--service", "my-service", "--token", token,
                 "--verify", "--now", str(NOW)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ok    signature: verified with the secret {env: ABCDEFGHIJKL_SUPABASE_CO_KEY}" in out
    assert encoded not in out


def test_prints_the_yaml_to_stdout_without_o(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "statebacked", "--idps", IDPS,
                 "--token-providers", TOKEN_PROVIDERS]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Imported from State Backed")
    assert "token_providers:\n  my-service:\n    signing_key: sbk_nXzdtCxESemgtxS5JX-LrA" in out


def test_an_existing_file_is_not_overwritten(imported: Path) -> None:
    before = (imported / "tokensmith.yaml").read_text()
    code = main(["import", "statebacked", "--idps", IDPS, "--token-providers", TOKEN_PROVIDERS,
                 "-o", str(imported)])
    assert code == 2
    assert (imported / "tokensmith.yaml").read_text() == before


def test_unreadable_or_malformed_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.json")
    assert main(["import", "statebacked", "--idps", missing,
                 "--token-providers", TOKEN_PROVIDERS]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"idps": [{"algs": ["RS256"], "mapping": {}}]}))
    assert main(["import", "statebacked", "--idps", str(bad),
                 "--token-providers", TOKEN_PROVIDERS]) == 2
    assert "idps[0]: has neither iss nor aud" in capsys.readouterr().err
