"""What is wrong with a URL tokensmith will fetch keys from, or with a browser origin.

Pure functions over strings: the rules that call them know where the string was written.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, parse_qsl, urlsplit


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1: hosts that never leave the machine."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def split_url(url: str) -> SplitResult | None:
    """`urlsplit(url)`, or None when the text is not a URL at all (e.g. a bad port)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts


def has_userinfo(url: str) -> bool:
    """True when `url` holds a user name or password (`https://user:pass@host`): text that may
    be a credential, which findings never repeat."""
    parts = split_url(url)
    if parts is None:
        return "@" in url  # unparsable: assume the worst
    return parts.username is not None or parts.password is not None


#: Parts of a query parameter's name that mark it as a credential (compared without case and
#: without `_`/`-`): `api_key`, `access_token`, `client_secret`, `X-Amz-Signature`, `password`...
CREDENTIAL_WORDS = ("key", "token", "secret", "pass", "pwd", "sig", "auth", "cred", "session")


def credential_in_query(parts: SplitResult, url: str) -> str | None:
    """What in the URL's query or fragment may be a credential, or None: a fragment (never sent
    to the server, so only pasted text) or a query parameter named like a credential."""
    if parts.fragment or url.rstrip().endswith("#"):
        return "a fragment"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        folded = "".join(c for c in name.lower() if c.isalnum())
        if any(word in folded for word in CREDENTIAL_WORDS):
            return f"the query parameter '{name}'"
    return None


def has_credential(url: str) -> bool:
    """True when `url` holds user information or a credential in its query or fragment: text
    that findings never repeat."""
    parts = split_url(url)
    if parts is None:
        return "@" in url or "?" in url or "#" in url  # unparsable: assume the worst
    return has_userinfo(url) or credential_in_query(parts, url) is not None


def is_loopback_http(url: str) -> bool:
    """True when `url` is plain http to a loopback host."""
    parts = split_url(url)
    return (
        parts is not None
        and parts.scheme.lower() == "http"
        and parts.hostname is not None
        and is_loopback_host(parts.hostname)
    )


def origin_problem(origin: str) -> str | None:
    """Why `origin` is not a browser origin (`scheme://host[:port]`), or None when it is."""
    parts = split_url(origin)
    if parts is None or not parts.scheme or not parts.netloc:
        return "is not an origin of the form scheme://host[:port]"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return f"uses the scheme '{parts.scheme}', not https"
    if parts.username is not None or parts.password is not None:
        return "holds a user name or password"
    if not parts.hostname:
        return "has no host"
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        return "has a path, query or fragment, which an origin never has"
    if scheme == "http" and not is_loopback_host(parts.hostname):
        return "uses http on a host that is not loopback (https is required)"
    return None
