"""The shadow candidate: a second bundle that decides requests beside the live one, unheard.

`prepare_candidate` builds the candidate's exchange state exactly as `runtime.startup` builds
the live one (the same secret resolution, so a secret the process lacks refuses start-up), with
two differences:
- keys: an identity provider whose key source is identical to a live provider's (same JWKS URL
  or discovery issuer, secret reference or inline key set, same algorithms, same
  `allow_insecure_http`) uses the live provider's `KeySource`, so the JWKS cache fetches it
  once, and a token the live side verified with that source is not verified again; the
  candidate's other remote providers get a cache of their own, started in the background with
  the server;
- signing: the candidate's signers never sign (`sign_payload` gives an empty text), so the
  candidate runs the live `exchange()` itself, every step up to but not including signing.

A sampled live exchange keeps its envelope step's parse of the subject token; `decide` hands it
to the candidate's envelope step instead of parsing the same text again. The candidate's claims
take the live token's `jti` (its decision already has the live `now`), so claims it leaves alone
are the live payload, byte for byte, and `compare` needs no more than the two payloads then.

`decide` runs one request through the candidate and `compare` judges it against the live
outcome; both are pure functions of their arguments and `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson

from .bundle import Bundle
from .errors import ExchangeError, KeysNotReady, StartupError, TemporarilyUnavailable, UnknownKeyId
from .exchange import ExchangeRequest, Issued, exchange
from .jose import ALGORITHMS, ParsedJWS, parse_compact
from .jti import JTI_LENGTH
from .keys import KeySource, VerificationKey
from .model import IdentityProviderSpec
from .secrets import resolve_all
from .signing import Signer
from .state import ExchangeState, build_state

if TYPE_CHECKING:
    from .jwks import JwksCache

#: The results a shadow decision is counted under (`tokensmith_shadow_decisions_total`).
SAME = "same"
WOULD_BREAK = "would_break"
WOULD_OPEN = "would_open"
CLAIMS_CHANGED = "claims_changed"
UNKNOWN = "unknown"
DROPPED = "dropped"
RESULTS = (SAME, WOULD_BREAK, WOULD_OPEN, CLAIMS_CHANGED, UNKNOWN, DROPPED)
DIVERGENCES = frozenset({WOULD_BREAK, WOULD_OPEN, CLAIMS_CHANGED})

#: Claims every issued token changes on its own; never a divergence.
VOLATILE_CLAIMS = frozenset({"iat", "exp", "jti"})
#: The reason code of a decision the candidate could not make (an exception, no keys yet).
UNDECIDED = "undecided"
#: The candidate's `jti` when the live side issued none: as long as a real one.
PLACEHOLDER_JTI = "-" * JTI_LENGTH


@dataclass(frozen=True)
class Candidate:
    """The candidate bundle, its exchange state (signers that never sign) and, when it has
    remote identity providers that no live provider shares, its own JWKS cache."""

    bundle: Bundle
    state: ExchangeState
    cache: JwksCache | None
    #: candidate identity provider -> live identity provider whose keys it uses
    shared_keys: Mapping[str, str]
    #: set around each decision: the live key source that verified the token, if any
    verified: VerifiedByLive

    @property
    def revision(self) -> str:
        return self.bundle.revision


class _NotSigning(Signer):
    """A signer that signs nothing: the candidate's decisions are never sent to anyone."""

    __slots__ = ()

    def sign_payload(self, payload: bytes) -> str:
        return ""


def _never_signs(data: bytes) -> bytes:
    raise AssertionError("the shadow candidate never signs")  # pragma: no cover


def key_source_identity(spec: IdentityProviderSpec) -> tuple[Any, ...]:
    """What makes two identity providers' keys the same: where they come from (a JWKS URL, an
    issuer's discovery, the same secret reference, the same inline key set), how (loopback
    http or not), and which algorithms the keys are filtered by."""
    inline = None
    if spec.jwks is not None:
        inline = orjson.dumps(spec.jwks, default=_thawed, option=orjson.OPT_SORT_KEYS)
    return (
        spec.jwks_url, spec.discovery, spec.issuer if spec.discovery else None,
        spec.secret, inline, spec.algorithms, spec.allow_insecure_http,
    )


def _thawed(value: Any) -> dict[str, Any]:
    """A read-only mapping of the loaded config as a dict, for orjson."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(type(value).__name__)


class VerifiedByLive:
    """The live key source that verified the token being decided, if any (set around each
    decision by `runtime.shadow.Shadow`): its signature is not checked a second time."""

    __slots__ = ("source",)

    def __init__(self) -> None:
        self.source: KeySource | None = None


class _AlreadyVerified:
    """A key that verifies: the live side verified this token with the same key source."""

    kid = None
    algorithms = ALGORITHMS

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        return True


_VERIFIED = (_AlreadyVerified(),)


class _SharedSource:
    """A live provider's `KeySource` as the candidate uses it: when the live side verified the
    token being decided with this very source (`VerifiedByLive`), the candidate's signature
    step passes without verifying again; otherwise the live source answers."""

    __slots__ = ("source", "verified")

    def __init__(self, source: KeySource, verified: VerifiedByLive) -> None:
        self.source = source
        self.verified = verified

    def candidates(self, kid: str | None, alg: str) -> Sequence[VerificationKey]:
        if self.verified.source is self.source:
            return _VERIFIED
        return self.source.candidates(kid, alg)

    def signature_failed(self, kid: str) -> None:
        self.source.signature_failed(kid)


def prepare_candidate(
    bundle: Bundle, env: Mapping[str, str], live: ExchangeState, live_cache: JwksCache | None
) -> Candidate:
    """The candidate for `bundle`, its keys shared with the live side's where identical.

    Raises `StartupError` (every problem, each prefixed "shadow candidate") when a secret or key
    of the candidate cannot be had.
    """
    try:
        resolved = resolve_all(bundle.config, env)
        shared, own = _split_sources(bundle, live)
        cache: JwksCache | None = None
        sources: dict[str, KeySource] = {}
        if own:
            from .jwks import JwksCache  # only a candidate with remote keys of its own

            cache = JwksCache(own)
            sources.update({spec.name: cache.source(spec.name) for spec in own})
        specs = bundle.config.identity_providers
        sources.update(
            {name: live.key_sources[of] for name, of in shared.items()
             if specs[name].uses_remote_keys}
        )
        state = build_state(bundle, resolved, sources)
    except StartupError as exc:
        raise StartupError([f"shadow candidate: {problem}" for problem in exc.problems]) from None
    verified = VerifiedByLive()
    key_sources = dict(state.key_sources)
    for name, live_name in shared.items():
        key_sources[name] = _SharedSource(live.key_sources[live_name], verified)
    signers = {
        kid: _NotSigning(kid, signer.algorithm, _never_signs, None)
        for kid, signer in state.signers.items()
    }
    state = replace(
        state, key_sources=MappingProxyType(key_sources), signers=MappingProxyType(signers)
    )
    return Candidate(bundle, state, cache, MappingProxyType(shared), verified)


def _split_sources(
    bundle: Bundle, live: ExchangeState
) -> tuple[dict[str, str], list[IdentityProviderSpec]]:
    """The candidate's providers whose keys a live provider has (name -> live name), and its
    remote providers that need a fetch of their own."""
    live_by_source: dict[tuple[Any, ...], str] = {}
    for name, spec in sorted(live.bundle.config.identity_providers.items()):
        live_by_source.setdefault(key_source_identity(spec), name)
    shared: dict[str, str] = {}
    own: list[IdentityProviderSpec] = []
    for name, spec in sorted(bundle.config.identity_providers.items()):
        found = live_by_source.get(key_source_identity(spec))
        if found is not None and found in live.key_sources:
            shared[name] = found
        elif spec.uses_remote_keys:
            own.append(spec)
    return shared, own


#: One side's decision of a request: the `Issued` (its claims and their payload), the
#: `ExchangeError` it was (or would be) refused with, or None when that side could not decide
#: (no keys yet, an unknown key id, anything unexpected). A refusal after the signature step
#: names the provider whose keys verified the token (`ExchangeError.verified_by`).
Decision = Issued | ExchangeError | None


def live_decision(live: Issued | BaseException) -> Decision:
    """What the live exchange decided: its `Issued`, or the exception it answered with (None
    for no keys or an unexpected error)."""
    if isinstance(live, Issued):
        return live
    if isinstance(live, TemporarilyUnavailable) or not isinstance(live, ExchangeError):
        return None
    return live


def reason_of(decision: Decision) -> str:
    """The reason code a divergence line names for `decision`."""
    if decision is None:
        return UNDECIDED
    return "issued" if isinstance(decision, Issued) else decision.reason


def identity_provider_of(decision: Decision) -> str | None:
    """The provider whose keys verified the token, if a decision got that far."""
    if decision is None:
        return None
    if isinstance(decision, Issued):
        return decision.identity_provider
    return decision.verified_by


def decide(
    candidate: ExchangeState,
    request: ExchangeRequest,
    now: float,
    jws: ParsedJWS | None = None,
    jti: str = PLACEHOLDER_JTI,
) -> Decision:
    """The candidate's decision of `request` at `now`: the live `exchange()` on its state.

    `jws` is the live side's parse of this request's subject token, when it parsed one: the
    envelope step gives it back instead of parsing the same text again (`parse_compact` is a
    pure function of the text and the length limit, which both sides share). `jti` is the
    `jti` of the candidate's claims: the live token's when the live side issued one, so that
    equal claims have equal payloads (`compare`), else a stand-in of the same length, so that
    the size of the issued claims is checked as the candidate would check it live.

    Never raises an `Exception`: no keys yet, an unknown key id and anything unexpected are
    None (counted `unknown`), never a divergence.
    """
    token = request.subject_token

    def parse(text: str, max_length: int) -> ParsedJWS:
        """The envelope step: the live side's parse, when it is of this very text."""
        if jws is None or text is not token:
            return parse_compact(text, max_length)
        return jws

    def new_jti() -> str:  # the candidate's tokens are never issued: no random text spent
        return jti

    try:
        return exchange(candidate, request, now, new_jti, parse)
    except (KeysNotReady, UnknownKeyId):
        return None
    except ExchangeError as exc:
        # kept as the decision, without its traceback and chained exceptions: they would keep
        # the exchange's frames, and through them this decision, alive in a reference cycle
        exc.__traceback__ = exc.__context__ = exc.__cause__ = None
        return exc
    except Exception:  # a faulty candidate: counted unknown, the live side never sees it
        return None


def compare(live: Decision, candidate: Decision) -> tuple[str, tuple[str, ...]]:
    """The result of one shadow decision and the names of the claims that differ.

    Two issued claim sets with the same payload are `same` without looking further: a payload
    is kept only when orjson wrote the claims without an error, and the same compact JSON of
    such claims is the same JSON to orjson, so it is the same with `iat`, `exp` and `jti`
    blanked too (what `_stable_json` compares). The candidate decides with the live token's
    `jti` at the live `now`, so claims it leaves alone have the live payload; different
    payloads (another lifetime, changed claims) go the long way.
    """
    if isinstance(live, Issued):
        if isinstance(candidate, Issued):
            payload = live.comparable_payload
            if payload and payload == candidate.comparable_payload:  # the common case
                return SAME, ()
            old, new = live.claims, candidate.claims
            same = _stable_json(old)
            if same is not None and same == _stable_json(new):  # still at C speed
                return SAME, ()
            changed = changed_claims(old, new)
            return (CLAIMS_CHANGED if changed else SAME), changed
        return (UNKNOWN if candidate is None else WOULD_BREAK), ()
    if live is None or candidate is None:
        return UNKNOWN, ()
    return (WOULD_OPEN if isinstance(candidate, Issued) else SAME), ()


def _stable_json(claims: Mapping[str, Any]) -> bytes | None:
    """The claims as JSON with `iat`, `exp` and `jti` blanked: equal bytes are equal claims
    (member order included, so unequal bytes may still be equal claims: `changed_claims`
    decides those). None when orjson cannot write them."""
    try:
        return orjson.dumps({**claims, "iat": None, "exp": None, "jti": None})
    except (TypeError, orjson.JSONEncodeError):
        return None


def changed_claims(live: Mapping[str, Any], candidate: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of the claims whose values differ, `iat`, `exp` and `jti` aside; inside `act` (the
    mapping output) the member's name, as `act.email`. Sorted; never a value."""
    names: list[str] = []
    for name in sorted(set(live) | set(candidate)):
        if name in VOLATILE_CLAIMS:
            continue
        old, new = live.get(name, _ABSENT), candidate.get(name, _ABSENT)
        if _same_json(old, new):
            continue
        if name == "act" and isinstance(old, dict) and isinstance(new, dict):
            names.extend(f"act.{member}" for member in changed_members(old, new))
        else:
            names.append(name)
    return tuple(names)


def changed_members(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Names of the members of two objects whose values differ (or are on one side only)."""
    return [
        name for name in sorted(set(old) | set(new))
        if not _same_json(old.get(name, _ABSENT), new.get(name, _ABSENT))
    ]


def _same_json(a: Any, b: Any) -> bool:
    # `True == 1` in Python, but not in the issued JSON
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


_ABSENT = object()
