"""`exchange.STEPS` is the order `exchange()` really runs its steps in, and its docstring's list.

`exchange()` calls its steps inline (a loop would cost a call per step on the hot path), so the
order is proven by behaviour: a request that breaks one step is refused by that step, and a
request that breaks two is refused by the one `STEPS` lists first.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jwt
import pytest

from tokensmith.runtime import exchange as exchange_module
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import MAX_SUBJECT_TOKEN_LENGTH, STEPS, ExchangeRequest, exchange
from tokensmith.runtime.issuing import MAX_ISSUED_CLAIMS_BYTES
from tokensmith.runtime.secrets import resolve_all
from tokensmith.runtime.state import ExchangeState, build_state

from ..support.exchange_world import (
    ENV,
    GITHUB_KEY,
    NOW,
    RSA_KEY,
    auth0_claims,
    bundle,
    new_jti,
)

Mapping_ = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]

NAMES = (
    "service", "token_size", "envelope", "identity_provider", "algorithm", "signature", "times",
    "conditions", "allowed_identity_provider", "identity_provider_mapping", "service_conditions",
    "service_mapping", "issued_claims", "signing",
)  # fmt: skip


def test_the_published_steps_and_their_names() -> None:
    # `explain`, the docs and tools outside this repository name steps by these words
    assert tuple(step.name for step in STEPS) == NAMES
    assert all(step.summary for step in STEPS)


def test_the_module_docstring_lists_the_same_steps() -> None:
    doc = exchange_module.__doc__ or ""
    items = re.findall(r"^(\d+)\. `(\w+)`: (.+)$", doc, re.M)
    assert [(int(n), name, text) for n, name, text in items] == [
        (number, step.name, step.summary) for number, step in enumerate(STEPS, 1)
    ]


@dataclass
class Attempt:
    """One request to the exchange world, and the bundle tweaks it runs against."""

    service: str = "my-service"
    claims: dict[str, Any] = field(default_factory=auth0_claims)
    alg: str = "RS256"
    bad_signature: bool = False
    garbled: bool = False
    allowed: tuple[str, ...] | None = None
    idp_mapping: Mapping_ | None = None
    tp_require: Mapping_ | None = None
    tp_mapping: Mapping_ | None = None

    def token(self) -> str:
        if self.alg == "HS256":  # an HMAC token for an RS256-only provider
            secret = b"another-secret-" if self.bad_signature else b"a-secret-"
            token = jwt.encode(self.claims, secret * 4, algorithm="HS256")
        else:
            key = GITHUB_KEY if self.bad_signature else RSA_KEY
            token = jwt.encode(self.claims, key, algorithm="RS256", headers={"kid": "rsa1"})
        return token + ".extra" if self.garbled else token

    def state(self) -> ExchangeState:
        world = bundle()
        services = dict(world.config.token_providers)
        services["my-service"] = dataclasses.replace(
            services["my-service"], identity_providers=self.allowed
        )
        config = dataclasses.replace(world.config, token_providers=MappingProxyType(services))
        idp_mappings, tp_mappings = dict(world.idp_mappings), dict(world.tp_mappings)
        if self.idp_mapping is not None:
            idp_mappings["auth0"] = self.idp_mapping
        if self.tp_mapping is not None:
            tp_mappings["my-service"] = self.tp_mapping
        tp_requirements = dict(world.tp_requirements)
        if self.tp_require is not None:
            tp_requirements["my-service"] = self.tp_require
        world = dataclasses.replace(
            world,
            config=config,
            idp_mappings=MappingProxyType(idp_mappings),
            tp_mappings=MappingProxyType(tp_mappings),
            tp_requirements=MappingProxyType(tp_requirements),
        )
        return build_state(world, resolve_all(config, ENV), {})


#: The faulty mappings that ran, by step: both mapping steps refuse with the same answer, so
#: which of the two ran is what tells them apart.
RAN: list[str] = []


def _raises(step: str) -> Mapping_:
    def mapping(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        RAN.append(step)
        raise KeyError("a faulty mapping")

    return mapping


def _refuses(data: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    # the generated functions return False for a condition that does not hold
    return "sub" not in data


def _set(name: str, value: Any) -> Callable[[Attempt], None]:
    def apply(attempt: Attempt) -> None:
        setattr(attempt, name, value)

    return apply


def _claim(name: str, value: Any) -> Callable[[Attempt], None]:
    def apply(attempt: Attempt) -> None:
        attempt.claims[name] = value

    return apply


#: For every step that can refuse: how to break it, and the answer it then refuses with (the RFC
#: error and the reason; for a faulty mapping, also the step whose mapping ran and raised).
BREAK: dict[str, tuple[Callable[[Attempt], None], str]] = {
    "service": (_set("service", "no-such-service"), "invalid_target unknown_service"),
    "token_size": (_claim("padding", "x" * MAX_SUBJECT_TOKEN_LENGTH),
                   "invalid_request token_too_long"),
    "envelope": (_set("garbled", True), "invalid_request segment_count"),
    "identity_provider": (_claim("iss", "https://unknown.example/"),
                          "invalid_request untrusted_issuer"),
    "algorithm": (_set("alg", "HS256"), "invalid_request alg_not_allowed"),
    "signature": (_set("bad_signature", True), "invalid_request bad_signature"),
    "times": (_claim("exp", int(NOW) - 3600), "invalid_request expired"),
    "conditions": (_claim("email_verified", False), "invalid_request condition_failed"),
    "allowed_identity_provider": (_set("allowed", ("supabase",)),
                                  "invalid_target idp_not_allowed"),
    "identity_provider_mapping": (_set("idp_mapping", _raises("identity_provider_mapping")),
                                  "invalid_request mapping_error identity_provider_mapping"),
    "service_conditions": (_set("tp_require", _refuses), "invalid_target condition_failed"),
    "service_mapping": (_set("tp_mapping", _raises("service_mapping")),
                        "invalid_request mapping_error service_mapping"),
    # a claim the mappings carry into the issued token, small enough for the subject token
    "issued_claims": (_claim("blob", "x" * MAX_ISSUED_CLAIMS_BYTES),
                      "invalid_request claims_too_large"),
}  # fmt: skip


def _reason(*broken: str) -> str | None:
    attempt = Attempt()
    for name in broken:
        BREAK[name][0](attempt)
    RAN.clear()
    try:
        exchange(attempt.state(), ExchangeRequest(attempt.token(), attempt.service), NOW, new_jti)
    except ExchangeError as exc:
        return " ".join([exc.error, exc.reason, *RAN])
    return None


def test_every_step_but_signing_can_be_broken_here() -> None:
    assert list(BREAK) == [step.name for step in STEPS if step.name != "signing"]
    assert _reason() is None  # the unbroken attempt is issued


@pytest.mark.parametrize("name", list(BREAK))
def test_breaking_one_step_is_refused_by_that_step(name: str) -> None:
    assert _reason(name) == BREAK[name][1]


PAIRS = list(itertools.combinations(BREAK, 2))  # in the order of BREAK, which is that of STEPS


@pytest.mark.parametrize(("first", "later"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_breaking_two_steps_is_refused_by_the_one_listed_first(first: str, later: str) -> None:
    assert _reason(later, first) == BREAK[first][1]
    assert _reason(first, later) == BREAK[first][1]
