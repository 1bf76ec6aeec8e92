"""Shadow isolation through a real server (uvicorn, uvloop, httptools on 127.0.0.1).

A candidate that accepts everything, refuses everything or raises is served beside the live
bundle; every answer must equal, byte for byte but for the issued token's `jti`, `iat` and
`exp`, the answer of the same bundle served without a shadow. A slow candidate shows that the
answer is sent before the candidate decides, and that a candidate too slow for the traffic is
shed (`dropped`) instead of queued.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tokensmith.runtime.app import create_app
from tokensmith.runtime.shadow import Shadow
from tokensmith.runtime.startup import Runtime, ShadowOptions, prepare

from ..support.http_server import World, form, idp, running, write_bundle
from ..support.shadow_bundles import ACCEPT_ALL, RAISING, REFUSE_ALL, SLOW, write_with_mappings

pytestmark = pytest.mark.slow

VOLATILE = {"jti", "iat", "exp"}


def requests_of(world: World) -> list[tuple[str, dict[str, str]]]:
    """Exchanges of every kind: issued, refused at each step, unknown service, not a token.
    Tokens live an hour, so that `expires_in` is the token provider's 900 s whenever issued."""
    now = int(time.time())
    hour = now + 3600
    tokens = {
        "issued": world.hs_token(exp=hour),
        "issued_es": world.es_token(exp=hour),
        "verified_only": world.hs_token(exp=hour),  # `only-rsa` refuses the HS provider
        "expired": world.hs_token(exp=now - 3600),
        "bad_signature": world.hs_token(exp=hour)[:-4] + "AAAA",
        "untrusted": world.hs_token(iss="https://evil.example.com/", exp=hour),
        "not_a_jwt": "not-a-jwt",
        # the `verified` provider requires `email_verified`, which this token lacks
        "condition": jwt.encode(
            world.claims(iss="https://verified.example.com/", exp=hour), world.verified_secret,
            "HS256"),
    }
    requests = [(name, form(token)) for name, token in tokens.items()]
    requests[2] = ("verified_only", form(tokens["verified_only"], "only-rsa"))
    requests.append(("unknown_service", form(tokens["issued"], "nowhere")))
    requests.append(("es_service", form(tokens["issued_es"], "es-service")))
    return requests


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    """Status, headers but `date`, and the body with the issued token's claims instead of the
    token, its `jti`, `iat` and `exp` left out (they differ between any two exchanges)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    body = response.json()
    if "access_token" in body:
        token = body.pop("access_token")
        claims = jwt.decode(token, options={"verify_signature": False})
        body["claims"] = {k: v for k, v in claims.items() if k not in VOLATILE}
        body["header"] = jwt.get_unverified_header(token)
    return response.status_code, headers, body


@contextmanager
def serving_runtime(runtime: Runtime) -> Iterator[str]:
    with running(create_app(runtime)) as server:
        yield server.url


def answers(url: str, requests: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    with httpx.Client(base_url=url) as client:
        return {
            name: comparable(client.post("/tokens", data=body,
                                         headers={"x-request-id": f"req-{name}"}))
            for name, body in requests
        }


def wait_for_decisions(shadow: Shadow, total: int) -> None:
    deadline = time.monotonic() + 10
    while sum(shadow.counts.values()) < total:
        assert time.monotonic() < deadline, shadow.counts
        time.sleep(0.01)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def plain_answers(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    live = write_bundle(tmp_path_factory.mktemp("plain") / "live", world.config)
    with serving_runtime(prepare(str(live), world.env)) as url:
        return answers(url, requests_of(world))


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        # accepts every verified token: what the live side refuses after the signature opens
        (ACCEPT_ALL, {"would_open": 1, "claims_changed": 3}),
        (REFUSE_ALL, {"would_break": 3}),
        (RAISING, {"unknown": 4}),
    ],
    ids=["accepts-everything", "refuses-everything", "raises"],
)
def test_no_candidate_changes_a_live_answer(
    world: World, plain_answers: dict[str, Any], tmp_path: Path,
    mappings: str, expected: dict[str, int],
) -> None:
    live = write_bundle(tmp_path / "live", world.config)
    candidate = write_with_mappings(tmp_path / "candidate", world.config, mappings)
    runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(candidate)))
    requests = requests_of(world)
    with serving_runtime(runtime) as url:
        shadowed = answers(url, requests)
        assert runtime.shadow is not None
        wait_for_decisions(runtime.shadow, len(requests))
    assert shadowed == plain_answers
    counts = {k: v for k, v in runtime.shadow.counts.items() if v}
    assert counts == {"same": len(requests) - sum(expected.values()), **expected}


def test_the_answer_is_sent_before_the_candidate_decides(world: World, tmp_path: Path) -> None:
    live = write_bundle(tmp_path / "live", world.config)
    # 50 ms per mapping, two mappings: the candidate takes 100 ms per decision
    candidate = write_with_mappings(tmp_path / "candidate", world.config, SLOW)
    runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(candidate)))
    assert runtime.shadow is not None
    with serving_runtime(runtime) as url, httpx.Client(base_url=url) as client:
        client.get("/healthz")  # the connection is open
        started = time.perf_counter()
        response = client.post("/tokens", data=form(world.hs_token()))
        took = time.perf_counter() - started
        assert response.status_code == 200
        assert took < 0.08, took
        wait_for_decisions(runtime.shadow, 1)
    assert runtime.shadow.counts["same"] == 1


def test_a_candidate_too_slow_for_the_traffic_is_shed(world: World, tmp_path: Path) -> None:
    live = write_bundle(tmp_path / "live", world.config)
    candidate = write_with_mappings(tmp_path / "candidate", world.config, SLOW)
    runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(candidate)))
    assert runtime.shadow is not None
    # a short wait bound, so that the test stays short: ~3 decisions (100 ms each) fit in it
    shadow = Shadow(runtime.shadow.candidate, 1.0, runtime.state, max_age=0.25)
    runtime = replace(runtime, shadow=shadow)
    sent = 40

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            token = world.hs_token()
            replies = await asyncio.gather(
                *[client.post("/tokens", data=form(token)) for _ in range(sent)])
            return [reply.status_code for reply in replies]

    with serving_runtime(runtime) as url:
        started = time.monotonic()
        assert asyncio.run(burst(url)) == [200] * sent
        wait_for_decisions(shadow, sent)
        took = time.monotonic() - started
    assert shadow.counts["dropped"] >= sent // 2, shadow.counts
    assert shadow.counts["same"] >= 1
    assert shadow.counts["same"] + shadow.counts["dropped"] == sent
    assert took < 5, took  # 40 slow decisions queued would take 4 s on their own


def test_keys_are_shared_where_identical_and_new_ones_count_unknown_until_fetched(
    world: World, tmp_path: Path
) -> None:
    from ..support.jwks_server import FaultServer, Reply

    key = world.rsa_key
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True),
           "kid": "k1", "alg": "RS256", "use": "sig"}
    with FaultServer() as jwks_server:
        jwks_server.set("/jwks", Reply.json({"keys": [jwk]}))
        # the candidate's new provider publishes the same key, slowly: its first fetch
        # takes a second, and its decisions count `unknown` until then
        jwks_server.set("/new", Reply(200, json.dumps({"keys": [jwk]}).encode(),
                                      {"Content-Type": "application/json"}, delay=1.0))
        live_config = dict(world.config, identity_providers=dict(world.config["identity_providers"]))
        live_config["identity_providers"]["remote"] = idp(
            issuer="https://remote.example.com/", audience="r", algorithms=["RS256"],
            jwks_url=jwks_server.url("/jwks"))
        candidate = dict(live_config, identity_providers=dict(live_config["identity_providers"]))
        candidate["identity_providers"]["fresh"] = idp(
            issuer="https://fresh.example.com/", audience="f", algorithms=["RS256"],
            jwks_url=jwks_server.url("/new"))
        live = write_bundle(tmp_path / "live", live_config)
        cand = write_bundle(tmp_path / "candidate", candidate)
        runtime = prepare(str(live), world.env, shadow=ShadowOptions(str(cand)))
        shadow = runtime.shadow
        assert shadow is not None and shadow.candidate.cache is not None

        def token(issuer: str, audience: str) -> str:
            claims = world.claims(iss=issuer, aud=audience)
            return jwt.encode(claims, key, "RS256", {"kid": "k1"})

        remote, fresh = token("https://remote.example.com/", "r"), token(
            "https://fresh.example.com/", "f")
        with serving_runtime(runtime) as url, httpx.Client(base_url=url) as client:
            assert client.post("/tokens", data=form(remote)).status_code == 200
            assert client.post("/tokens", data=form(fresh)).status_code == 400
            wait_for_decisions(shadow, 2)
            assert shadow.counts["same"] == 1 and shadow.counts["unknown"] == 1
            deadline = time.monotonic() + 10
            while not shadow.candidate.cache.ready():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            ready = client.get("/readyz").json()["shadow"]
            assert client.post("/tokens", data=form(fresh)).status_code == 400
            wait_for_decisions(shadow, 3)
        assert shadow.counts["would_open"] == 1
        assert ready["jwks_identity_providers_own_ready"] == 1
        # every live provider's keys, the remote one's and the static ones'
        sharing = ready["identity_providers_sharing_live_keys"]
        assert sharing == len(live_config["identity_providers"])
        # one fetch of the shared key set, for both bundles
        assert jwks_server.count("/jwks") == 1 and jwks_server.count("/new") == 1
