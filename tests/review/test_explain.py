"""`explain` walks the runtime's own list of steps: it refuses at the step `POST /tokens` refuses at.

Each request breaks one or two steps; the runtime's `exchange()` on the same compiled bundle
names the step by its refusal reason, and `explain` must name the same one as `failed_step`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest

from tokensmith import __version__
from tokensmith.cli import main
from tokensmith.review.explain import explain
from tokensmith.review.prepared import Prepared, prepare
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import STEPS, ExchangeRequest, exchange
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.startup import Runtime, prepare_bundle

NOW = 1_800_000_000
IDP_SECRET = "explain-steps-idp-secret-0123456789abcdef-long-enough-for-hs384"
ENV = {"EXPLAIN_STEPS_SIGNING": "explain-steps-signing-secret-0123456789ab",
       "EXPLAIN_STEPS_IDP": IDP_SECRET,
       "EXPLAIN_STEPS_OTHER": "explain-steps-other-secret-0123456789abcd"}  # fmt: skip
CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k: {algorithm: HS256, secret: {env: EXPLAIN_STEPS_SIGNING}}
identity_providers:
  idp:
    issuer: https://idp.example.com/
    audience: api
    secret: {env: EXPLAIN_STEPS_IDP}
    algorithms: [HS256]
    require: {$.email_verified: true}
    mapping: {sub.$: $.sub, blob.$: $.blob}
  other:
    issuer: https://other.example.com/
    audience: api
    secret: {env: EXPLAIN_STEPS_OTHER}
    algorithms: [HS256]
    mapping: {sub.$: $.sub}
token_providers:
  svc:
    signing_key: k
    identity_providers: [idp]
    require: {$.sub: {prefix: u-}}
    mapping: {sub.$: $.sub, blob.$: $.blob}
  elsewhere:
    signing_key: k
    identity_providers: [other]
    mapping: {sub.$: $.sub}
"""
#: The step of `STEPS` each refusal (RFC error, reason) of these requests comes from.
STEP_OF = {
    ("invalid_target", "unknown_service"): "service",
    ("invalid_request", "untrusted_issuer"): "identity_provider",
    ("invalid_request", "alg_not_allowed"): "algorithm",
    ("invalid_request", "bad_signature"): "signature",
    ("invalid_request", "expired"): "times",
    ("invalid_request", "condition_failed"): "conditions",
    ("invalid_target", "idp_not_allowed"): "allowed_identity_provider",
    ("invalid_target", "condition_failed"): "service_conditions",
    ("invalid_request", "claims_too_large"): "issued_claims",
}


@dataclass
class Attempt:
    claims: dict[str, Any] = field(default_factory=lambda: {
        "iss": "https://idp.example.com/", "aud": "api", "sub": "u-1", "email_verified": True,
        "exp": NOW + 600, "iat": NOW,
    })  # fmt: skip
    alg: str = "HS256"
    secret: str = IDP_SECRET
    unknown_service: bool = False
    other_service: bool = False

    @property
    def service(self) -> str:
        return "nope" if self.unknown_service else "elsewhere" if self.other_service else "svc"

    def token(self) -> str:
        return jwt.encode(self.claims, self.secret.encode(), algorithm=self.alg)


BREAK = {
    "service": lambda a: setattr(a, "unknown_service", True),
    "identity_provider": lambda a: a.claims.update(iss="https://unknown.example/"),
    "algorithm": lambda a: setattr(a, "alg", "HS384"),
    "signature": lambda a: setattr(a, "secret", IDP_SECRET[::-1]),
    "times": lambda a: a.claims.update(exp=NOW - 3600),
    "conditions": lambda a: a.claims.update(email_verified=False),
    "allowed_identity_provider": lambda a: setattr(a, "other_service", True),
    "service_conditions": lambda a: a.claims.update(sub="x-1"),
    "issued_claims": lambda a: a.claims.update(blob="x" * 9000),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prepared, Runtime]]:
    path = tmp_path_factory.mktemp("explain-steps") / "tokensmith.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    prepared = prepare(str(path), version=__version__)
    assert prepared.bundle is not None, prepared.check.diagnostics
    with pytest.MonkeyPatch.context() as patch:  # `--verify` reads the secret from the env
        for name, value in ENV.items():
            patch.setenv(name, value)
        yield prepared, prepare_bundle(prepared.bundle, ENV)


def _steps(world: tuple[Prepared, Runtime], *broken: str) -> tuple[str | None, str | None]:
    """(the step the runtime refuses at, the step `explain` names); None when issued."""
    prepared, service = world
    attempt = Attempt()
    for name in broken:
        BREAK[name](attempt)
    token = attempt.token()
    try:
        exchange(service.state, ExchangeRequest(token, attempt.service), NOW, lambda: "j")
        runtime = None
    except ExchangeError as exc:
        runtime = STEP_OF[exc.error, exc.reason]
    jws = parse_compact(token)
    result = explain(prepared, attempt.service, jws.claims, NOW, jws, verify=True)
    assert result.issued is (result.failed_step is None)
    return runtime, result.failed_step


def test_the_broken_steps_are_steps_of_the_exchange() -> None:
    order = [step.name for step in STEPS]
    assert sorted(BREAK, key=order.index) == list(BREAK)


def test_an_unbroken_request_is_issued_by_both(world: tuple[Prepared, Runtime]) -> None:
    assert _steps(world) == (None, None)


@pytest.mark.parametrize("name", list(BREAK))
def test_one_broken_step_is_named_alike(world: tuple[Prepared, Runtime], name: str) -> None:
    assert _steps(world, name) == (name, name)


PAIRS = list(itertools.combinations(BREAK, 2))


@pytest.mark.parametrize(("first", "later"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_two_broken_steps_are_named_alike(
    world: tuple[Prepared, Runtime], first: str, later: str
) -> None:
    assert _steps(world, first, later) == (first, first)
    assert _steps(world, later, first) == (first, first)


def test_the_json_trace_names_the_failed_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({**Attempt().claims, "email_verified": False}))
    code = main(["explain", str(path), "--service", "svc", "--claims", str(claims),
                 "--now", str(NOW), "--format", "json"])
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert (document["failed_check"], document["failed_step"]) == (
        "require $.email_verified", "conditions")
