"""`cors.allow_headers` from the bundle to the preflight, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from tokensmith.runtime.cors import CorsPolicy
from tokensmith.runtime.errors import BundleError
from tokensmith.runtime.model import parse_config

ORIGIN = "https://app.example.com"


def _config(cors: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "format": "tokensmith-config/1", "issuer": "https://tokens.example.com/", "cors": cors,
        "signing_keys": {}, "identity_providers": {}, "token_providers": {},
    }


def _allowed(policy: CorsPolicy) -> list[str]:
    headers = dict(policy.preflight_headers(ORIGIN, "POST") or [])
    return headers[b"access-control-allow-headers"].decode().split(", ")


def test_a_bundle_without_allow_headers_allows_the_defaults() -> None:
    config = parse_config(_config({"allow_origins": [ORIGIN]}))
    assert config.cors_allow_headers == ()
    policy = CorsPolicy(config.cors_allow_origins, config.cors_allow_headers)
    assert _allowed(policy) == [
        "Content-Type", "X-Request-Id", "X-StateBacked-Org-Id", "X-StateBacked-Act",
    ]


def test_configured_headers_follow_the_defaults_once_each() -> None:
    config = parse_config(_config({
        "allow_origins": [ORIGIN], "allow_headers": ["X-Client-Version", "content-type"],
    }))
    policy = CorsPolicy(config.cors_allow_origins, config.cors_allow_headers)
    assert _allowed(policy) == [
        "Content-Type", "X-Request-Id", "X-StateBacked-Org-Id", "X-StateBacked-Act",
        "X-Client-Version",
    ]


@pytest.mark.parametrize("name", ["X-A\r\nSet-Cookie: a=b", "X A", "*", "", "X-\u00e9"])
def test_a_bundle_with_a_header_that_is_not_a_name_is_refused(name: str) -> None:
    """The names go into a response header: a bundle edited by hand cannot inject one."""
    with pytest.raises(BundleError, match=r"cors\.allow_headers"):
        parse_config(_config({"allow_origins": [ORIGIN], "allow_headers": [name]}))
