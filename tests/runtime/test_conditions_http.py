"""`require` conditions through the real server: a config compiled the production way, served
by uvicorn on 127.0.0.1, and real HTTP requests.

Each operator and combinator passes and fails as written (missing claims, wrong types, unicode,
very long values); an identity provider's condition answers 400 `invalid_request`, a service's
400 `invalid_target`, and neither answer nor the access log names the path or the value; the
adversarial glob answers at once.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tokensmith.runtime import accesslog
from tokensmith.runtime.app import create_app
from tokensmith.runtime.jose import MAX_TOKEN_LENGTH

from ..support.compiled_world import UPSTREAM, UPSTREAM_SECRET, compiled_service
from ..support.http_server import running

pytestmark = pytest.mark.slow

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
SECRET_WORD = "Zq7condition"  # in the config's conditions only: must never be echoed

CONFIG = f"""\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  es_main: {{algorithm: ES256, private_key: {{env: REVIEW_ES_MAIN}}}}
identity_providers:
  upstream:
    issuer: {UPSTREAM}
    audience: upstream-api
    secret: {{env: REVIEW_UPSTREAM_SECRET}}
    algorithms: [HS256]
    require:
      $.org: [acme, "ácmé ☃"]
      $.ref: {{glob: 'refs/heads/*'}}
      $.email: {{suffix: '@acme.test'}}
      $.repo: {{prefix: 'acme/'}}
      $.amr: {{contains: mfa}}
      $.level: {{gte: 1, lt: 10}}
      $.banned: {{exists: false}}
      not: {{$.actor: {{glob: '{SECRET_WORD}*'}}}}
      any_of:
        - $.env: production
        - all_of: [{{$.env: {{prefix: staging-}}}}, {{$.env: {{suffix: -eu}}}}]
    mapping: {{sub.$: $.sub, role.$: $.role, org.$: $.org, slow.$: $.slow}}
token_providers:
  reader:
    signing_key: es_main
    mapping: {{sub.$: $.sub}}
  admin:
    signing_key: es_main
    require:
      $.role: [admin, {SECRET_WORD}]
      $$.identity_provider: upstream
    mapping: {{sub.$: $.sub}}
  slow:
    signing_key: es_main
    require:
      $.slow: {{glob: '*a*a*a*a*a*b'}}
    mapping: {{sub.$: $.sub}}
"""

GOOD: dict[str, Any] = {
    "sub": "u1", "org": "acme", "ref": "refs/heads/feature/x", "email": "a@acme.test",
    "repo": "acme/api", "amr": ["pwd", "mfa"], "level": 1, "actor": "alice", "env": "production",
    "role": "admin",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A client of the real server (one client: a new one per request costs more than the
    request itself)."""
    runtime = compiled_service(tmp_path_factory.mktemp("conditions"), CONFIG)
    with running(create_app(runtime)) as running_server, httpx.Client(
        base_url=running_server.url, timeout=10
    ) as client:
        yield client


def token(**claims: Any) -> str:
    now = int(time.time())
    body = {"iss": UPSTREAM, "aud": "upstream-api", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not ...}, UPSTREAM_SECRET.encode(),
                      algorithm="HS256")


def post(client: httpx.Client, subject: str, service: str = "reader") -> httpx.Response:
    form = {"grant_type": GRANT, "subject_token": subject, "audience": service}
    return client.post("/tokens", data=form)


def with_(**changes: Any) -> dict[str, Any]:
    """GOOD with some claims changed; `...` removes a claim."""
    return {**GOOD, **changes}


PASSING = [
    pytest.param(with_(), id="all hold"),
    pytest.param(with_(org="ácmé ☃"), id="one-of, unicode"),
    pytest.param(with_(ref="refs/heads/" + "x/" * 4000), id="glob, 8 KB value"),
    pytest.param(with_(ref="refs/heads/"), id="glob star matches empty"),
    pytest.param(with_(ref="refs/heads/" + "é" * 1500 + "\u2028"), id="glob, long, unicode"),
    pytest.param(with_(level=9.5), id="lt with a float"),
    pytest.param(with_(amr=["mfa"]), id="contains"),
    pytest.param(with_(actor=...), id="not holds when the claim is missing"),
    pytest.param(with_(env="staging-eu"), id="any_of second alternative, all_of"),
    pytest.param(with_(email="é@acme.test"), id="suffix, unicode"),
]
FAILING = [
    pytest.param(with_(org="acme "), id="one-of, trailing space"),
    pytest.param(with_(org=...), id="equality, missing claim"),
    pytest.param(with_(ref="refs/tags/v1"), id="glob mismatch"),
    pytest.param(with_(ref=["refs/heads/main"]), id="glob on a list"),
    pytest.param(with_(ref=...), id="glob, missing claim"),
    pytest.param(with_(email="a@acme.test.evil"), id="suffix mismatch"),
    pytest.param(with_(email=1), id="suffix on a number"),
    pytest.param(with_(repo="acm/api"), id="prefix mismatch"),
    pytest.param(with_(amr="mfa"), id="contains on a string"),
    pytest.param(with_(amr=["MFA"]), id="contains is case sensitive"),
    pytest.param(with_(level=True), id="gte, a boolean is not a number"),
    pytest.param(with_(level="5"), id="gte, a string is not a number"),
    pytest.param(with_(level=10), id="lt bound"),
    pytest.param(with_(level=0.5), id="gte bound"),
    pytest.param(with_(level=...), id="gte, missing claim"),
    pytest.param(with_(banned=None), id="exists false, present as null"),
    pytest.param(with_(actor=SECRET_WORD + "-bot"), id="not"),
    pytest.param(with_(env="staging-us"), id="any_of, no alternative"),
    pytest.param(with_(env=...), id="any_of, missing claim"),
    pytest.param(with_(ref="refs/head" + "s" * 8000 + "/"), id="glob, long mismatch"),
]


@pytest.mark.parametrize("claims", PASSING)
def test_identity_provider_conditions_that_hold_issue(server: httpx.Client, claims: dict[str, Any]) -> None:
    response = post(server, token(**claims))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("claims", FAILING)
def test_identity_provider_conditions_that_fail_answer_invalid_request(
    server: httpx.Client, claims: dict[str, Any]
) -> None:
    response = post(server, token(**claims))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "token does not meet the identity provider's conditions",
        "code": "condition_failed",
    }


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), (SECRET_WORD, 200), ("reader", 400), (..., 400), (["admin"], 400)],
)
def test_service_conditions_answer_invalid_target(server: httpx.Client, role: Any, status: int) -> None:
    # the same token passes the identity provider and the `reader` service
    subject = token(**with_(role=role))
    assert post(server, subject, "reader").status_code == 200
    response = post(server, subject, "admin")
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json() == {
            "error": "invalid_target",
            "error_description": "token does not meet the service's conditions",
            "code": "condition_failed",
        }


def test_no_answer_or_log_line_names_a_condition(
    server: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    monkeypatch.setattr(accesslog, "_sink", accesslog._Sink())
    accesslog.configure(buffer)  # type: ignore[arg-type]
    answers = [post(server, token(**with_(actor=SECRET_WORD + "x"))).text,
               post(server, token(**with_(role="reader")), "admin").text]
    accesslog.flush()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    for text in [*answers, buffer.getvalue().decode()]:
        for word in (SECRET_WORD, "$.", "actor", "role", "glob"):
            assert word not in text
    assert [(line["status"], line["outcome"], line["identity_provider"], line["service"])
            for line in lines] == [(400, "condition_failed", "upstream", "reader"),
                                   (400, "condition_failed", "upstream", "admin")]


def longest_text(end: str) -> str:
    """The longest run of `a` (then `end`) whose token still fits the runtime's token limit
    (16384 characters for the whole token: a 16 KB claim cannot arrive in a token; the matcher
    alone is timed on 16 KB in `test_globs.py` and `bench/glob_bench.py`)."""
    low, high = 0, MAX_TOKEN_LENGTH
    while low < high:
        middle = (low + high + 1) // 2
        if len(token(**with_(slow="a" * middle + end))) <= MAX_TOKEN_LENGTH:
            low = middle
        else:
            high = middle - 1
    return "a" * low + end


@pytest.mark.parametrize("end", ["", "b"])
def test_the_adversarial_glob_answers_at_once(server: httpx.Client, end: str) -> None:
    text = longest_text(end)
    assert len(text) > 11_000
    subject = token(**with_(slow=text))
    assert post(server, subject, "reader").status_code == 200  # the same token, no glob
    timings = []
    for _ in range(3):  # the best of three: the machine may be busy; a backtracking matcher
        started = time.perf_counter()  # would take minutes every time
        response = post(server, subject, "slow")
        timings.append(time.perf_counter() - started)
        assert response.status_code == (200 if end else 400), response.text
    assert min(timings) < 0.1, [f"{t * 1000:.1f} ms" for t in timings]
