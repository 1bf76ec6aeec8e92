"""The token exchange: a pure function of (state, request, now).

No Starlette, no I/O, no clock reads, no randomness but the injected `new_jti`. The steps run in
a fixed order, cheap before expensive, and nothing is mapped before it is verified; `STEPS`
publishes this list, and a test holds the code, this docstring and `STEPS` to one order:

1. `service`: the requested service has a token provider
2. `token_size`: the subject token is at most 16,384 characters
3. `envelope`: the compact JWS envelope is strict (`runtime.jose.parse_compact`)
4. `identity_provider`: exactly one identity provider matches the byte-exact `iss`/`aud`
5. `algorithm`: `alg` is in that provider's allow-list
6. `signature`: a key of that provider, and of no other, verifies the signature
7. `times`: `exp` (required), `nbf`, `iat` and `sub`, with the provider's leeway
8. `conditions`: the provider's `require` conditions hold
9. `allowed_identity_provider`: the service accepts that identity provider
10. `identity_provider_mapping`: the provider's mapping gives the intermediate claims
11. `service_conditions`: the service's `require` conditions hold on the intermediate claims
12. `service_mapping`: the service's mapping gives the issued claims' JSON object
13. `issued_claims`: the issued claims are built and small enough (`runtime.issuing`)
14. `signing`: the issued claims are signed with the service's key

The service's conditions come after its allow-list: the allow-list costs no mapping work, and
the conditions are written against what the allowed providers' mappings produce (`check` holds
their paths to those providers alone), so a provider the service does not accept never meets
them. Both refusals answer `invalid_target`, with the reasons `idp_not_allowed` and
`condition_failed`.

`decide(...)` runs them all but `token_size`, `envelope`, `algorithm`, `signature` and `signing`,
on claims its caller takes as verified: `tokensmith test` calls it, and `explain` walks `STEPS`
calling the same functions, so the HTTP path and the review tools share everything but parsing
and the signature. Every refusal is an `ExchangeError` with a fixed description and a `reason`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from .bundle import Bundle, RequirementFunction
from .claims import validate_claims
from .errors import ExchangeError, InvalidRequest, InvalidTarget
from .idp_index import IdentityProviderIndex, match_identity_provider
from .issuing import IssuedClaims, issue_claims
from .jose import MAX_TOKEN_LENGTH, ParsedJWS, parse_compact
from .keys import KeySource
from .mapping_api import mapping_context
from .model import TokenProviderSpec
from .state import ExchangeState

MAX_SUBJECT_TOKEN_LENGTH = MAX_TOKEN_LENGTH

BAD_SIGNATURE = "token signature is not valid"
CONDITION_FAILED = "token does not meet the identity provider's conditions"
SERVICE_CONDITION_FAILED = "token does not meet the service's conditions"
MAPPING_FAILED = "token claims could not be mapped"
UNKNOWN_SERVICE = "unknown service"
IDP_NOT_ALLOWED = "service does not accept this identity provider"


class Step(NamedTuple):
    """One step of the exchange: a stable name (`explain` and the docs use it) and what it does."""

    name: str
    summary: str


STEPS: tuple[Step, ...] = (
    Step("service", "the requested service has a token provider"),
    Step("token_size", "the subject token is at most 16,384 characters"),
    Step("envelope", "the compact JWS envelope is strict (`runtime.jose.parse_compact`)"),
    Step("identity_provider",
         "exactly one identity provider matches the byte-exact `iss`/`aud`"),
    Step("algorithm", "`alg` is in that provider's allow-list"),
    Step("signature", "a key of that provider, and of no other, verifies the signature"),
    Step("times", "`exp` (required), `nbf`, `iat` and `sub`, with the provider's leeway"),
    Step("conditions", "the provider's `require` conditions hold"),
    Step("allowed_identity_provider", "the service accepts that identity provider"),
    Step("identity_provider_mapping", "the provider's mapping gives the intermediate claims"),
    Step("service_conditions",
         "the service's `require` conditions hold on the intermediate claims"),
    Step("service_mapping", "the service's mapping gives the issued claims' JSON object"),
    Step("issued_claims", "the issued claims are built and small enough (`runtime.issuing`)"),
    Step("signing", "the issued claims are signed with the service's key"),
)
"""The steps of `exchange()` in the order it runs them (inline, for speed; a test checks it)."""


class ExchangeRequest(NamedTuple):
    """What the HTTP layer extracted: the subject token and the service (from `audience`)."""

    subject_token: str
    service: str


class Issued(NamedTuple):
    """A successful exchange: the signed token and what the access log may name."""

    access_token: str
    expires_in: int
    identity_provider: str
    service: str
    claims: Mapping[str, Any]
    #: the signed claims' compact JSON when orjson wrote them without an error, else empty:
    #: what a shadow candidate compares its own with (`runtime.shadow_candidate.compare`)
    comparable_payload: bytes = b""


@dataclass(frozen=True)
class Decision:
    """Everything about an exchange but the signature: what `tokensmith test` compares."""

    identity_provider: str
    service: str
    intermediate: Mapping[str, Any]
    claims: Mapping[str, Any]
    expires_in: int
    signing_key: str
    #: the claims as the compact JSON that was size-checked: what `exchange` signs
    payload: bytes = field(default=b"", repr=False, compare=False)


#: The `envelope` step: `parse_compact` itself, or a stand-in with its exact results (the shadow
#: candidate's, which gives back what the live side parsed from the same token).
Parse = Callable[[str, int], ParsedJWS]


def exchange(
    state: ExchangeState,
    request: ExchangeRequest,
    now: float,
    new_jti: Callable[[], str],
    parse: Parse = parse_compact,
) -> Issued:
    """Verify `request.subject_token` and issue a token for `request.service`, or raise.

    `parse` is the envelope step; a stand-in must give exactly what `parse_compact` gives for
    the same token (a sampled live exchange records its parse, `runtime.shadow`, and the shadow
    candidate reuses it instead of parsing the same text again).

    Raises an `ExchangeError`; `UnknownKeyId` and `KeysNotReady` (from the provider's key
    source) are left for the HTTP layer to refetch or wait on.
    """
    # The steps of `STEPS`, inline: a loop over them would cost a call each on the hot path.
    target = token_provider(state.bundle, request.service)  # service
    if len(request.subject_token) > MAX_SUBJECT_TOKEN_LENGTH:  # token_size
        raise InvalidRequest("subject token is too large", "token_too_long")
    jws = parse(request.subject_token, MAX_SUBJECT_TOKEN_LENGTH)  # envelope
    name = match_identity_provider(state.index, jws.claims)  # identity_provider
    algorithms = state.bundle.config.identity_providers[name].algorithms
    verify_signature(state.key_sources[name], algorithms, jws)  # algorithm, signature
    # times, conditions, allowed_identity_provider, identity_provider_mapping,
    # service_conditions, service_mapping, issued_claims
    try:
        _, (claims, expires_in, payload, orjson_wrote) = _decide(
            state.bundle, name, jws.claims, target, now, new_jti
        )
    except ExchangeError as exc:
        exc.verified_by = name  # past the signature: this refusal may be counted per provider
        raise
    token = state.signers[target.signing_key].sign_payload(payload)  # signing
    return Issued(
        token, expires_in, name, request.service, MappingProxyType(claims),
        payload if orjson_wrote else b"",
    )


def token_provider(bundle: Bundle, service: str) -> TokenProviderSpec:
    """The token provider serving `service`; `InvalidTarget` when there is none."""
    spec = bundle.config.token_providers.get(service)
    if spec is None:
        raise InvalidTarget(UNKNOWN_SERVICE, "unknown_service")
    return spec


def verify_signature(source: KeySource, allowed: tuple[str, ...], jws: ParsedJWS) -> None:
    """Steps `algorithm` and `signature`: `alg` against the provider's allow-list, then that
    provider's keys for `kid`.

    Every failure reads "token signature is not valid" so a caller cannot tell an algorithm,
    a key id and a signature apart; the `reason` tells the logs.
    """
    alg = jws.header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise InvalidRequest(BAD_SIGNATURE, "alg_not_allowed")
    kid = jws.header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidRequest("malformed token", "bad_kid")
    keys = source.candidates(kid, alg)  # may raise UnknownKeyId / KeysNotReady
    if not keys:
        raise InvalidRequest(BAD_SIGNATURE, "no_matching_key")
    for key in keys:
        if alg in key.algorithms and key.verify(alg, jws.signing_input, jws.signature):
            return
    if kid is not None:
        source.signature_failed(kid)  # a remote source may refetch once: same kid, new key
    raise InvalidRequest(BAD_SIGNATURE, "bad_signature")


def decide(
    bundle: Bundle,
    index: IdentityProviderIndex,
    claims: Mapping[str, Any],
    service: str,
    now: float,
    new_jti: Callable[[], str],
) -> Decision:
    """The steps on claims taken as verified: all but `token_size`, `envelope`, `algorithm`,
    `signature` and `signing`."""
    token_provider(bundle, service)
    name = match_identity_provider(index, claims)
    return decide_matched(bundle, name, claims, service, now, new_jti)


def decide_matched(
    bundle: Bundle,
    identity_provider: str,
    claims: Mapping[str, Any],
    service: str,
    now: float,
    new_jti: Callable[[], str],
) -> Decision:
    """The steps from `times` to `issued_claims` for claims of `identity_provider` whose
    signature has been verified."""
    target = token_provider(bundle, service)
    intermediate, (issued, expires_in, payload, _) = _decide(
        bundle, identity_provider, claims, target, now, new_jti
    )
    return Decision(
        identity_provider=identity_provider,
        service=service,
        intermediate=MappingProxyType(intermediate),
        claims=MappingProxyType(issued),
        expires_in=expires_in,
        signing_key=target.signing_key,
        payload=payload,
    )


def _decide(
    bundle: Bundle,
    identity_provider: str,
    claims: Mapping[str, Any],
    target: TokenProviderSpec,
    now: float,
    new_jti: Callable[[], str],
) -> tuple[dict[str, Any], IssuedClaims]:
    """`decide_matched` for the token provider `target`, without building a `Decision`:
    the intermediate claims and the issued ones, as `exchange` needs them."""
    idp = bundle.config.identity_providers[identity_provider]
    service = target.service
    subject_exp = validate_claims(claims, now, idp.leeway)  # times
    context = mapping_context(identity_provider, service)
    check_requirements(bundle, identity_provider, claims, context)  # conditions
    # before any mapping runs: a refusal costs no mapping work
    check_allowed(target, identity_provider)  # allowed_identity_provider
    # identity_provider_mapping
    intermediate = run_mapping(bundle.idp_mappings[identity_provider], claims, context)
    check_service_requirements(bundle, service, intermediate, context)  # service_conditions
    mapped = run_mapping(bundle.tp_mappings[service], intermediate, context)  # service_mapping
    return intermediate, issue_claims(target, mapped, subject_exp, now, new_jti())  # issued_claims


def check_requirements(
    bundle: Bundle, identity_provider: str, claims: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    """Step `conditions`: the provider's `require` conditions, when it has any; anything but
    `True` refuses."""
    requirement = bundle.idp_requirements.get(identity_provider)
    if requirement is not None:
        _enforce(requirement, claims, context, InvalidRequest, CONDITION_FAILED)


def check_service_requirements(
    bundle: Bundle, service: str, intermediate: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    """Step `service_conditions`: the service's `require` conditions on the intermediate claims,
    when it has any; anything but `True` refuses with `invalid_target`."""
    requirement = bundle.tp_requirements.get(service)
    if requirement is not None:
        _enforce(requirement, intermediate, context, InvalidTarget, SERVICE_CONDITION_FAILED)


def _enforce(requirement: RequirementFunction, claims: Mapping[str, Any],
             context: Mapping[str, Any], refusal: type[ExchangeError], description: str) -> None:
    """Run a generated `require` function; anything but `True` refuses with `refusal`."""
    try:
        met = requirement(claims, context)
    except Exception:  # generated code should not raise; if it does, refuse, never crash
        raise refusal(description, "mapping_error") from None
    if met is not True:
        raise refusal(description, "condition_failed")


def check_allowed(target: TokenProviderSpec, identity_provider: str) -> None:
    """Step `allowed_identity_provider`: the service's allow-list of identity providers (None:
    every provider)."""
    allowed = target.identity_providers
    if allowed is not None and identity_provider not in allowed:
        raise InvalidTarget(IDP_NOT_ALLOWED, "idp_not_allowed")


def run_mapping(
    mapping: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]],
    data: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Steps `identity_provider_mapping` and `service_mapping`: a generated mapping function's
    output, which must be a JSON object; a mapping that raises refuses, never crashes."""
    try:
        result = mapping(data, context)
    except Exception:  # generated code should not raise; if it does, refuse, never crash
        raise InvalidRequest(MAPPING_FAILED, "mapping_error") from None
    if not isinstance(result, dict):
        raise InvalidRequest(MAPPING_FAILED, "mapping_error")
    return result
