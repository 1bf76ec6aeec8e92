"""Parse the body of `POST /tokens` into a `TokenRequest`; no HTTP framework here.

Two bodies are read, both strictly:

- `application/x-www-form-urlencoded` (RFC 8693 §2.1, and what State Backed's client sends),
  strict UTF-8 with `parse_qsl(strict_parsing=True)`'s rules (see `parse_form`): `&` is the only
  separator, every field has `=`, at most `MAX_FIELDS` fields. There is no multipart parser.
- `application/json`: one strict JSON object (duplicate members refused) whose values are strings.

Any other media type, or a `charset` other than UTF-8, is a 415. A parameter sent twice is refused
(RFC 6749 §3.2), unknown parameters are ignored (RFC 6749 §3.2 again), except `actor_token` and
`resource`, which would change the meaning of the request and are refused rather than ignored.

`audience` names the service: either the bare service name, or an `http(s)` URL whose last path
segment is the service name, as State Backed's client sends
`https://tokens.statebacked.dev/<org>/<service>` (the host and the other segments are not used).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote_plus, urlsplit

from .errors import InvalidRequest, InvalidTarget, UnsupportedGrantType
from .strict_json import StrictJSONError, loads

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 32
MAX_AUDIENCE_LENGTH = 2048

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TOKEN_TYPES = frozenset(
    {
        "urn:ietf:params:oauth:token-type:jwt",
        "urn:ietf:params:oauth:token-type:id_token",
        ACCESS_TOKEN_TYPE,
    }
)
REQUESTED_TOKEN_TYPES = frozenset({ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:jwt"})

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_REFUSED_PARAMETERS = {
    "actor_token": "actor_token is not supported",
    "actor_token_type": "actor_token is not supported",
}
_REFUSED_NAMES = frozenset({*_REFUSED_PARAMETERS, "resource"})


class UnsupportedMediaType(InvalidRequest):
    """The body is neither a UTF-8 form nor a JSON object (HTTP 415)."""

    status = 415


class BodyTooLarge(InvalidRequest):
    """The body is over `MAX_BODY_BYTES` (HTTP 413)."""

    status = 413


class TokenRequest(NamedTuple):
    """The parameters of one token exchange request, checked for shape but not for trust."""

    subject_token: str
    service: str
    subject_token_type: str | None = None
    requested_token_type: str | None = None


# Clients send the same one or two spellings every time; refusals raise and are not cached.
@functools.lru_cache(maxsize=64)
def body_kind(content_type: str | None) -> str:
    """`FORM` or `JSON` for an acceptable `Content-Type` header; `UnsupportedMediaType` else."""
    if not content_type:
        raise UnsupportedMediaType("content type must be form or JSON", "no_content_type")
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media not in (FORM, JSON):
        raise UnsupportedMediaType("content type must be form or JSON", "unsupported_media_type")
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise UnsupportedMediaType("charset must be UTF-8", "unsupported_charset")
    return media


def clear_caches() -> None:
    """Forget the remembered media types and unquoted texts (`runtime.caches.reset_all`)."""
    body_kind.cache_clear()
    _unquote_short.cache_clear()


def parse_body(kind: str, body: bytes) -> TokenRequest:
    """Parse a body of kind `FORM` or `JSON` (see `body_kind`) into a `TokenRequest`."""
    fields = parse_form(body) if kind == FORM else parse_json(body)
    return token_request(fields)


def parse_form(body: bytes) -> dict[str, str]:
    """Decode a urlencoded body strictly; a repeated name is an `InvalidRequest`.

    The fields, in order, that `urllib.parse.parse_qsl(text, keep_blank_values=True,
    strict_parsing=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)` reads
    from the body decoded as strict UTF-8 (`&` the only separator, every field with `=`, blank
    values kept, `+` and percent escapes decoded), refused where it raises; written out because
    tokens need no percent-decoding: the common body is split and kept as is, at a fraction of
    `parse_qsl`'s cost. The one difference is deliberate: a name that comes twice is refused
    ("repeated_parameter") where `parse_qsl` lists both, and when a body has both a repeated
    name and a bad field, the first of them in the body gives the reason
    (`tests/runtime/test_shortcut_equivalence.py` proves all of this against `parse_qsl`).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("request body is not valid UTF-8", "bad_encoding") from None
    if not text:
        return {}
    parts = text.split("&")
    if len(parts) > MAX_FIELDS:
        raise InvalidRequest("request body has too many parameters", "too_many_parameters")
    fields: dict[str, str] = {}
    for part in parts:
        name, equals, value = part.partition("=")
        if not equals:
            raise InvalidRequest("request body is not a valid form", "bad_form")
        name, value = _unquote(name), _unquote(value)
        if name in fields:
            raise InvalidRequest("a request parameter is repeated", "repeated_parameter")
        fields[name] = value
    return fields


def _unquote(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text
    if len(text) <= 128:  # names, grant and token types, audiences: the same few every time
        return _unquote_short(text)
    return _unquote_plus(text)


@functools.lru_cache(maxsize=512)
def _unquote_short(text: str) -> str:
    return _unquote_plus(text)


def _unquote_plus(text: str) -> str:
    try:
        return unquote_plus(text, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("request body is not valid UTF-8", "bad_encoding") from None


def parse_json(body: bytes) -> dict[str, str]:
    """Decode a JSON body: one object of at most `MAX_FIELDS` string members, no duplicates."""
    try:
        value = loads(body)
    except StrictJSONError:
        raise InvalidRequest("request body is not valid JSON", "bad_json_body") from None
    if not isinstance(value, dict):
        raise InvalidRequest("request body must be a JSON object", "bad_json_body")
    if len(value) > MAX_FIELDS:
        raise InvalidRequest("request body has too many parameters", "too_many_parameters")
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest("request parameters must be strings", "bad_json_body")
    return value


def token_request(fields: Mapping[str, str]) -> TokenRequest:
    """Check the token exchange parameters (RFC 8693 §2.1) and name the requested service."""
    grant_type = fields.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is missing", "missing_grant_type")
    if grant_type != TOKEN_EXCHANGE:
        raise UnsupportedGrantType("grant_type must be token exchange", "unsupported_grant_type")
    if not _REFUSED_NAMES.isdisjoint(fields):  # one test for the usual request: none of them
        for name, description in _REFUSED_PARAMETERS.items():
            if name in fields:
                raise InvalidRequest(description, "unsupported_parameter")
        raise InvalidTarget("resource is not supported; name the service in audience", "resource")
    subject_token = fields.get("subject_token")
    if not subject_token:
        raise InvalidRequest("subject_token is missing", "missing_subject_token")
    subject_type = fields.get("subject_token_type")
    if subject_type is not None and subject_type not in SUBJECT_TOKEN_TYPES:
        raise InvalidRequest("subject_token_type is not supported", "bad_subject_token_type")
    requested_type = fields.get("requested_token_type")
    if requested_type is not None and requested_type not in REQUESTED_TOKEN_TYPES:
        raise InvalidRequest("requested_token_type is not supported", "bad_requested_token_type")
    return TokenRequest(
        subject_token=subject_token,
        service=service_of(fields.get("audience")),
        subject_token_type=subject_type,
        requested_token_type=requested_type,
    )


def service_of(audience: str | None) -> str:
    """The service named by `audience`: a bare name or the last path segment of an http(s) URL."""
    if not audience:
        raise InvalidRequest("audience is missing", "missing_audience")
    if SERVICE_NAME.fullmatch(audience):
        return audience
    if len(audience) > MAX_AUDIENCE_LENGTH or not audience.isascii():
        raise InvalidTarget("audience does not name a service", "bad_audience")
    try:
        url = urlsplit(audience)
    except ValueError:
        raise InvalidTarget("audience does not name a service", "bad_audience") from None
    last = url.path.rpartition("/")[2]
    if (
        url.scheme not in ("https", "http")
        or not url.netloc
        or url.query
        or url.fragment
        or not SERVICE_NAME.fullmatch(last)
    ):
        raise InvalidTarget("audience does not name a service", "bad_audience")
    return last
