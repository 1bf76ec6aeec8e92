"""A credential in a key URL's query or fragment is refused like one in its user information.

`GET /idps` lists every `jwks_url` to anyone, so `https://idp.internal/keys?api_key=...` would
publish the key. Key sets are public: a key URL never needs a credential.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tokensmith.compiler.check import check_path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rules"

CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main: {{algorithm: HS256, secret: {{env: SIGNING_KEY}}}}
identity_providers:
  acme:
    issuer: https://login.acme.test/
    jwks_url: "{url}"
    algorithms: [RS256]
token_providers:
  api: {{signing_key: main}}
"""


def codes(tmp_path: Path, url: str) -> list[str]:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(CONFIG.format(url=url))
    result = check_path(str(path))
    shown = " ".join(f"{d.message} {d.hint or ''}" for d in result.diagnostics)
    assert "s3cr3t" not in shown  # never repeated back
    return [d.code for d in result.diagnostics]


@pytest.mark.parametrize("url", [
    "https://idp.internal.test/keys?api_key=s3cr3t",
    "https://idp.internal.test/keys?tenant=a&access_token=s3cr3t",
    "https://idp.internal.test/keys?X-Amz-Signature=s3cr3t&X-Amz-Credential=x",
    "https://idp.internal.test/keys?Password=s3cr3t",
    "https://idp.internal.test/keys?client-secret=s3cr3t",
    "https://idp.internal.test/keys#s3cr3t",
    "https://idp.internal.test/keys#",
])
def test_a_credential_in_the_query_or_fragment_is_refused(tmp_path: Path, url: str) -> None:
    assert codes(tmp_path, url) == ["E329"]


@pytest.mark.parametrize("url", [
    "https://login.microsoftonline.com/common/discovery/v2.0/keys?appid=6731de76",
    "https://idp.internal.test/keys?tenant=acme&v=2",
])
def test_a_plain_query_is_still_accepted(tmp_path: Path, url: str) -> None:
    assert codes(tmp_path, url) == []


def test_the_fixture_does_not_echo_its_secret() -> None:
    result = check_path(str(FIXTURE / "E329_jwks_url_query_credential.yaml"))
    assert [d.code for d in result.diagnostics] == ["E329"]
    assert "hunter2" not in result.diagnostics[0].message
