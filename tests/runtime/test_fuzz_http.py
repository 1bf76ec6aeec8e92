"""Random bodies, content types, headers and tokens at POST /tokens: never a 5xx, always an RFC body."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokensmith.runtime.app import create_app

from ..support.http_server import World, form, running

pytestmark = pytest.mark.slow

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/json",
    "application/json; charset=latin-1",
    "multipart/form-data; boundary=--x",
    "text/plain",
    "",
]
FIELDS = ["grant_type", "subject_token", "subject_token_type", "audience", "requested_token_type",
          "resource", "actor_token", "scope", "x"]

_WORLD = World()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    runtime = _WORLD.runtime(tmp_path_factory.mktemp("bundle") / "b")
    with running(create_app(runtime)) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
        yield c


def mutated_token(data: st.DataObject) -> str:
    token = _WORLD.hs_token()
    if data.draw(st.booleans()):
        return token
    chars = list(token)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(chars) - 1))
        chars[index] = data.draw(st.sampled_from("A.-_=+/ \x00é{}\"0"))
    return "".join(chars)


tokens = st.one_of(
    st.text(max_size=200),
    st.from_regex(r"[A-Za-z0-9_=.-]{0,300}", fullmatch=True),
)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100).map(
    str.strip
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_tokens_never_answers_5xx(client: httpx.Client, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["form", "json", "raw", "fields"]))
    token = mutated_token(data) if data.draw(st.booleans()) else data.draw(tokens)
    fields = form(token, audience=data.draw(st.sampled_from(
        ["my-service", "es-service", "https://tokens.statebacked.dev/o/my-service", "", "x/y", "é"]
    )))
    for name in data.draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        fields[name] = data.draw(st.text(max_size=50))
    content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    if kind == "form":
        body = urlencode(fields).encode()
    elif kind == "json":
        body = httpx.Request("POST", "/", json=fields).content
    elif kind == "fields":
        repeated = data.draw(st.lists(st.sampled_from(FIELDS), max_size=4))
        body = (urlencode(fields) + "".join(f"&{n}=1" for n in repeated)).encode()
    else:
        body = data.draw(st.binary(max_size=600))
    headers = {"content-type": content_type} if content_type else {}
    for name in data.draw(st.lists(st.sampled_from(["origin", "x-request-id", "accept", "x-a"]), max_size=3)):
        headers[name] = data.draw(header_values)
    method = data.draw(st.sampled_from(["POST", "POST", "POST", "PUT", "GET", "OPTIONS"]))
    query = data.draw(st.sampled_from(["", "?" + urlencode({"subject_token": token[:50]}), "?x"]))
    response = client.request(method, "/tokens" + query, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.headers["x-tokensmith-revision"]
    if response.status_code >= 400:
        error = response.json()
        assert set(error) == {"error", "error_description", "code"}
        assert response.headers["cache-control"] == "no-store"
