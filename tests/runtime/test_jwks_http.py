"""The small parts of the JWKS fetcher: freshness headers, Retry-After, URL rules, the policy."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from tokensmith.runtime._jwks_http import FetchError, check_url, freshness, parse_retry_after
from tokensmith.runtime.jwks import JwksPolicy


def http_date(offset: float) -> str:
    return formatdate(time.time() + offset, usegmt=True)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"cache-control": "public, max-age=120"}, 120),
    ({"cache-control": "max-age=120", "age": "20"}, 100),
    ({"cache-control": 'max-age="60"'}, 60),
    ({"cache-control": "max-age=10", "age": "99"}, 0),
    ({"cache-control": "no-store"}, 0),
    ({"cache-control": "max-age=600, no-cache"}, 0),
    ({"cache-control": "max-age=-5"}, 0),
    ({"cache-control": "max-age=99999999999999999999999"}, 10**12),
    ({"expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, 0),
    ({"expires": "0"}, 0),
    ({"expires": "Wed, 21 Oct 2015 08:28:00 GMT", "date": "Wed, 21 Oct 2015 07:28:00 GMT"}, 3600),
    ({"cache-control": "max-age=5", "expires": "Wed, 21 Oct 2099 07:28:00 GMT"}, 5),
])
def test_freshness_follows_rfc_9111(headers: dict[str, str], seconds: float) -> None:
    assert freshness(httpx.Headers(headers)) == seconds


def test_freshness_is_none_when_the_server_says_nothing() -> None:
    assert freshness(httpx.Headers({"content-type": "application/json"})) is None
    assert freshness(httpx.Headers({"cache-control": "public"})) is None


def test_expires_without_date_counts_from_now() -> None:
    seconds = freshness(httpx.Headers({"expires": http_date(300)}))
    assert seconds is not None and 295 <= seconds <= 301


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120), ("0", 0), (" 7 ", 7), ("soon", None), ("-1", None), ("", None), (None, None),
])
def test_retry_after_delta_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_http_date() -> None:
    seconds = parse_retry_after(http_date(60))
    assert seconds is not None and 55 <= seconds <= 61
    assert parse_retry_after(http_date(-60)) == 0


@pytest.mark.parametrize(("url", "allow_insecure_http"), [
    ("https://idp.example/.well-known/jwks.json", False),
    ("http://127.0.0.1:8080/jwks", True),
    ("http://127.1.2.3/jwks", True),
    ("http://[::1]:8080/jwks", True),
    ("http://localhost/jwks", True),
])
def test_url_accepted(url: str, allow_insecure_http: bool) -> None:
    check_url(url, allow_insecure_http)


@pytest.mark.parametrize(("url", "allow_insecure_http"), [
    ("http://idp.example/jwks", False),
    ("http://idp.example/jwks", True),
    ("http://10.0.0.1/jwks", True),
    ("http://169.254.169.254/latest", True),
    ("http://127.0.0.1/jwks", False),
    ("file:///etc/passwd", True),
    ("https://", False),
    ("https://[::1/jwks", False),
    ("//idp.example/jwks", False),
    # urlsplit takes these, httpx does not: refused here rather than crashing the fetch
    ("https://idp.example:abc/jwks", False),
    ("https://idp.example/jw\x00ks", False),
    ("https://idp.example/jwks\n", False),
])
def test_url_refused(url: str, allow_insecure_http: bool) -> None:
    with pytest.raises(FetchError) as info:
        check_url(url, allow_insecure_http)
    assert info.value.kind == "insecure_url"


def test_policy_backoff_doubles_to_its_maximum_and_honours_retry_after_up_to_a_bound() -> None:
    policy = JwksPolicy()
    assert [policy.backoff(n, None) for n in (1, 2, 3, 6, 7, 1000)] == [1, 2, 4, 32, 60, 60]
    assert policy.backoff(1, 120) == 120
    assert policy.backoff(1, 10**9) == 300
    assert policy.backoff(7, 5) == 60


@pytest.mark.parametrize("changes", [
    {"ttl_min": -1},
    {"ttl_min": 0},
    {"ttl_min": 100, "ttl_default": 50},
    {"ttl_max": 10},
    {"refresh_ahead": 1.5},
    {"refresh_jitter": 0.8},
    {"fetch_deadline": 0},
    {"max_keys": 0},
])
def test_policy_refuses_nonsense(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="JwksPolicy"):
        JwksPolicy(**changes)  # type: ignore[arg-type]
