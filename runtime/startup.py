"""Assemble the runtime from a bundle directory: bundle, secrets, JWKS cache, exchange state.

`prepare(directory, env)` does everything that can fail for a reason the operator must fix
(a bundle that does not check out, a missing or weak secret, a key that does not parse) and
raises `BundleError` or `StartupError` listing every problem, before a socket is opened. The
JWKS cache is created here but started by the app's lifespan, in the server's event loop.

`Runtime.exchange` is the one place that talks to both the pure exchange and the JWKS cache:
on `UnknownKeyId` it asks for one (cooldown-limited) refetch and retries once, on
`KeysNotReady` it waits a short while for the provider's first keys and retries once, and
`KeyIdPending` (an unknown `kid` while the refetch cooldown runs) is answered 503 at once. The first
attempt runs in a batch with the other exchanges of the same event-loop turn
(`runtime.batching`); a retry runs on its own.

With a shadow candidate (`prepare(..., shadow=ShadowOptions(...))`) the candidate bundle is
loaded and its secrets resolved here too, the same way, before a socket is opened; the
`Runtime` then carries a `runtime.shadow.Shadow`.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from .batching import Batcher
from .bundle import Bundle, load_bundle
from .bundle_signatures import SignatureError, Trust
from .cors import CorsPolicy
from .errors import BundleError, KeyIdPending, KeysNotReady, StartupError, UnknownKeyId
from .exchange import ExchangeRequest, Issued, exchange
from .jti import new_jti
from .keys import KeySource
from .metrics import Metrics
from .model import RuntimeConfig
from .secrets import resolve_all
from .signing import public_jwks_document
from .state import ExchangeState, build_state

if TYPE_CHECKING:
    from .jwks import JwksCache
    from .shadow import Shadow

#: How long a request waits for an identity provider's first JWKS before answering 503.
KEYS_WAIT_SECONDS = 2.5


@dataclass(frozen=True)
class Runtime:
    """Everything the HTTP app serves from; built once per process by `prepare`."""

    bundle: Bundle
    state: ExchangeState
    cache: JwksCache | None
    metrics: Metrics
    cors: CorsPolicy
    documents: Mapping[str, bytes] = field(default_factory=dict)
    #: the shadow candidate, when `serve --shadow` gave one
    shadow: Shadow | None = None
    batcher: Batcher[ExchangeRequest, Issued] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "batcher", Batcher(self._exchange_once))

    @property
    def revision(self) -> str:
        return self.bundle.revision

    async def start(self) -> None:
        """Start fetching JWKS in the background (the server's lifespan calls this)."""
        if self.cache is not None:
            await self.cache.start()
        if self.shadow is not None:
            await self.shadow.start()

    async def stop(self) -> None:
        if self.cache is not None:
            await self.cache.aclose()
        if self.shadow is not None:
            await self.shadow.stop()

    def ready(self) -> bool:
        """True when every JWKS identity provider has keys (always, without any)."""
        return self.cache is None or self.cache.ready()

    async def exchange(self, request: ExchangeRequest) -> Issued:
        """The exchange, with one refetch on an unknown `kid` and one wait for first keys."""
        try:
            return await self.batcher.submit(request)
        except (UnknownKeyId, KeysNotReady) as exc:
            return await self.retry(request, exc)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling() == 0:
                # nobody cancelled this request: the batch gave up on its item (an exception
                # that is not an Exception stopped it); answer as for any unexpected error
                raise RuntimeError("the exchange batch was abandoned") from None
            raise

    async def retry(self, request: ExchangeRequest, exc: UnknownKeyId | KeysNotReady) -> Issued:
        """After the first attempt's `exc`: refetch or wait for keys once, then retry once
        (re-raises `exc` when there is no JWKS cache or the keys did not come)."""
        await self.await_keys(exc)
        return self._exchange_once(request)

    async def await_keys(self, exc: UnknownKeyId | KeysNotReady) -> None:
        """After `exc`: one refetch for an unknown `kid`, or a wait for the provider's first
        keys; re-raises `exc` when there is no JWKS cache or the keys did not come."""
        if self.cache is None:
            raise exc
        if isinstance(exc, UnknownKeyId):
            await self.cache.refetch_for_unknown_kid(exc.identity_provider, exc.kid)
        elif isinstance(exc, KeyIdPending):
            raise exc  # the cooldown decides when to look again: answered 503 at once
        elif not await self.cache.wait_ready(exc.identity_provider, KEYS_WAIT_SECONDS):
            raise exc

    def _exchange_once(self, request: ExchangeRequest) -> Issued:
        return exchange(self.state, request, time.time(), new_jti)


@dataclass(frozen=True)
class ShadowOptions:
    """`serve --shadow DIRECTORY --shadow-sample SAMPLE`: the candidate bundle and the share
    (0 to 1) of exchanges it decides too."""

    directory: str
    sample: float = 1.0


def prepare(
    directory: str,
    env: Mapping[str, str],
    trust: Trust | None = None,
    *,
    shadow: ShadowOptions | None = None,
) -> Runtime:
    """Load and verify the bundle, resolve every secret, build the exchange state; with
    `shadow`, the same for the candidate bundle.

    With `trust`, the bundle must carry enough valid signatures (`runtime.bundle_signatures`);
    every bundle this process serves, live or not, is loaded here with the same trust: the
    shadow candidate too.
    Raises `BundleError` (the bundle; `SignatureError` for its signatures) or `StartupError`
    (every secret or key problem at once); a candidate's problems are prefixed "shadow
    candidate".
    """
    bundle = load_bundle(directory, trust)
    runtime = prepare_bundle(bundle, env)
    if shadow is None:
        return runtime
    try:
        candidate = load_bundle(shadow.directory, trust)
    except SignatureError as exc:  # before BundleError, its root
        problems = [f"shadow candidate: {problem}" for problem in exc.problems]
        raise SignatureError(problems, exc.report) from None
    except StartupError:
        raise
    except BundleError as exc:
        raise BundleError(f"shadow candidate {shadow.directory}: {exc}") from None
    return with_shadow(runtime, candidate, env, shadow.sample)


def with_shadow(
    runtime: Runtime, candidate: Bundle, env: Mapping[str, str], sample: float
) -> Runtime:
    """`runtime` with `candidate` as its shadow: secrets resolved as for the live bundle, keys
    shared with the live JWKS cache where identical (`runtime.shadow_candidate`)."""
    from .shadow import Shadow, ShadowCollector
    from .shadow_candidate import prepare_candidate

    prepared = prepare_candidate(candidate, env, runtime.state, runtime.cache)
    shadow = Shadow(prepared, sample, runtime.state)
    runtime.metrics.register(ShadowCollector.of(shadow))
    return replace(runtime, shadow=shadow)


def prepare_bundle(bundle: Bundle, env: Mapping[str, str]) -> Runtime:
    """`prepare` for a bundle already loaded (tests and benchmarks load from memory)."""
    resolved = resolve_all(bundle.config, env)
    remote = [spec for spec in bundle.config.identity_providers.values() if spec.uses_remote_keys]
    report = bundle.signatures
    metrics = Metrics(bundle.revision, signers=report.signers if report else ())
    cache: JwksCache | None = None
    sources: dict[str, KeySource] = {}
    if remote:
        from .jwks import JwksCache, JwksCollector  # only a bundle with remote keys needs httpx

        cache = JwksCache(remote)
        sources = {spec.name: cache.source(spec.name) for spec in remote}
        metrics.register(JwksCollector(cache.metrics_snapshot))
    state = build_state(bundle, resolved, sources)
    documents = {
        "jwks": orjson.dumps(public_jwks_document(state.signers.values())),
        "idps": orjson.dumps(idps_document(bundle.config)),
        "token_providers": orjson.dumps(token_providers_document(bundle.config)),
        "openapi": openapi_document(),
    }
    return Runtime(
        bundle=bundle,
        state=state,
        cache=cache,
        metrics=metrics,
        cors=CorsPolicy(bundle.config.cors_allow_origins, bundle.config.cors_allow_headers),
        documents=documents,
    )


def openapi_document() -> bytes:
    """`GET /openapi.json`: the OpenAPI 3.1 description of the HTTP API, shipped with the runtime
    (the same for every bundle; tests/runtime/test_openapi.py holds it to what the server answers).
    """
    return importlib.resources.files(__package__).joinpath("openapi.json").read_bytes()


def idps_document(config: RuntimeConfig) -> dict[str, list[dict[str, Any]]]:
    """`GET /idps` in State Backed's shape (`iss`, `aud`, `algs`, `jwksUrl`, `mapping`), plus
    `name`. Keys and secrets are never listed (State Backed's `key` is not returned either).
    """
    idps: list[dict[str, Any]] = []
    for name, spec in sorted(config.identity_providers.items()):
        entry: dict[str, Any] = {"name": name, "algs": list(spec.algorithms)}
        if spec.issuer is not None:
            entry["iss"] = spec.issuer
        if spec.audience is not None:
            entry["aud"] = spec.audience
        if spec.jwks_url is not None:
            entry["jwksUrl"] = spec.jwks_url
        entry["mapping"] = dict(spec.mapping)
        idps.append(entry)
    return {"idps": idps}


def token_providers_document(config: RuntimeConfig) -> dict[str, list[dict[str, Any]]]:
    """`GET /token-providers` in State Backed's shape (`service`, `keyId`, `mapping`)."""
    providers = [
        {"service": service, "keyId": spec.signing_key, "mapping": dict(spec.mapping)}
        for service, spec in sorted(config.token_providers.items())
    ]
    return {"tokenProviders": providers}
