"""Why a token would be issued or refused: a trace of the exchange, step by step.

The trace walks the runtime's own list of steps (`runtime.exchange.STEPS`) in its order, and the
verdicts come from the runtime's own functions (provider match, algorithm and signature, times,
`require`, the service's allow-list, the mappings, the service's `require` and the issued
claims); the first one that refuses ends the trace and is named as the failed check. The token's size and envelope were
checked when it was parsed (`--token`; claims given as JSON have neither), and nothing is signed.
Around each verdict the trace adds what a person needs to see why: every provider and why it
did not match, times with their distance from `now` and the leeway, every condition and every
part of it (under `any_of`, `all_of`, `not`) with its verdict and the values it saw, and every
mapped value with the path it came from (the reference interpreter of
`compiler/mappings`). Claim values are shown, secrets never: a key source is named by its
reference, and `--verify` reads a secret only to check the signature with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tokensmith.compiler.mappings.interpreter import Trace, apply_mapping, evaluate_require
from tokensmith.runtime.claims import (
    numeric_date,
    read_audiences,
    read_issuer,
    validate_claims,
)
from tokensmith.runtime.errors import ExchangeError, InvalidRequest
from tokensmith.runtime.exchange import (
    STEPS,
    check_allowed,
    check_requirements,
    check_service_requirements,
    decide_matched,
    run_mapping,
    token_provider,
    verify_signature,
)
from tokensmith.runtime.idp_index import (
    index_of,
    match_identity_provider,
    own_issuers_of,
    provider_matches,
)
from tokensmith.runtime.jose import ParsedJWS
from tokensmith.runtime.mapping_api import mapping_context
from tokensmith.runtime.model import IdentityProviderSpec
from tokensmith.schema.diagnostics import did_you_mean

from .conditions_text import condition_checks, first_failed
from .flatten import flatten_mapping
from .offline_keys import offline_key_source
from .prepared import Prepared
from .time_text import delta, when

EXPLAIN_JTI = "tokensmith-explain"


@dataclass(frozen=True)
class Check:
    """One verdict: `ok`, `failed`, `skipped` (could not be checked here) or `info`. `depth` is
    how deep a part of a condition sits under its combinators (`any_of`, `all_of`, `not`)."""

    name: str
    verdict: str
    detail: str
    depth: int = 0


@dataclass(frozen=True)
class ProviderMatch:
    name: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class MappedValue:
    """One output key of a mapping: where it came from and what it got (or why it is absent)."""

    output: str
    source: str  # "<- $.path" or "= constant"
    value: Any
    present: bool


@dataclass(frozen=True)
class MappingTrace:
    title: str
    values: tuple[MappedValue, ...]


@dataclass
class Explanation:
    """The whole trace; `failed_check` names the check that refused, when one did, and
    `failed_step` the step of `runtime.exchange.STEPS` it belongs to."""

    service: str
    now: float
    header: Mapping[str, Any] | None
    claims: Mapping[str, Any]
    providers: list[ProviderMatch] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    mappings: list[MappingTrace] = field(default_factory=list)
    issued_claims: dict[str, Any] | None = None
    failed_check: str | None = None
    failed_step: str | None = None
    error: ExchangeError | None = None

    @property
    def issued(self) -> bool:
        return self.issued_claims is not None

    def refuse(self, check: str, error: ExchangeError, detail: str) -> None:
        self.checks.append(Check(check, "failed", detail))
        self.failed_check, self.error = check, error


def explain(
    prepared: Prepared,
    service: str,
    claims: Mapping[str, Any],
    now: float,
    jws: ParsedJWS | None = None,
    verify: bool = False,
) -> Explanation:
    """Trace the exchange of `claims` (from `jws` when a token was given) for `service`."""
    assert prepared.bundle is not None and prepared.check.config is not None
    out = Explanation(service, now, None if jws is None else dict(jws.header), dict(claims))
    run = _Run(prepared, out, jws, verify)
    for step in STEPS:
        if not _TRACERS[step.name](run):
            out.failed_step = step.name
            break
    return out


@dataclass
class _Run:
    prepared: Prepared
    out: Explanation
    jws: ParsedJWS | None
    verify: bool
    provider: str = ""
    #: the intermediate claims, as the compiled identity provider mapping gives them
    intermediate: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> IdentityProviderSpec:
        assert self.prepared.bundle is not None
        return self.prepared.bundle.config.identity_providers[self.provider]

    @property
    def context(self) -> dict[str, str]:
        return mapping_context(self.provider, self.out.service)


def _service(run: _Run) -> bool:
    assert run.prepared.bundle is not None
    services = run.prepared.bundle.config.token_providers
    try:
        target = token_provider(run.prepared.bundle, run.out.service)
    except ExchangeError as exc:
        hint = did_you_mean(run.out.service, sorted(services)) or f"known: {', '.join(services)}"
        run.out.refuse("service", exc, f"no token provider serves '{run.out.service}' ({hint})")
        return False
    accepts = "every identity provider" if target.identity_providers is None else ", ".join(
        target.identity_providers)
    run.out.checks.append(Check("service", "ok", f"token provider {target.service}: signing key "
                                f"{target.signing_key}, accepts {accepts}"))
    return True


def _match(run: _Run) -> bool:
    assert run.prepared.bundle is not None
    config = run.prepared.bundle.config
    try:
        issuer, audiences = read_issuer(run.out.claims), read_audiences(run.out.claims)
    except InvalidRequest as exc:
        run.out.refuse("identity provider", exc, "the token's iss or aud is malformed")
        return False
    for name, spec in config.identity_providers.items():
        matched = provider_matches(spec, issuer, audiences)
        reason = "issuer and audience match" if matched else _no_match(spec, issuer, audiences)
        run.out.providers.append(ProviderMatch(name, matched, reason))
    try:
        run.provider = match_identity_provider(index_of(config), run.out.claims)
    except InvalidRequest as exc:
        names = [p.name for p in run.out.providers if p.matched]
        if issuer in own_issuers_of(config):
            detail = "the token claims tokensmith's own issuer: issued tokens are never exchanged"
        elif names:
            detail = f"several identity providers match ({', '.join(names)}): refused as ambiguous"
        else:
            detail = "no identity provider trusts this issuer and audience"
        run.out.refuse("identity provider", exc, detail)
        return False
    run.out.checks.append(Check("identity provider", "ok", f"matched {run.provider}"))
    return True


def _no_match(spec: IdentityProviderSpec, issuer: str | None, audiences: tuple[str, ...]) -> str:
    if spec.issuer is not None and issuer is None:
        return f"the token has no iss (provider issuer {spec.issuer})"
    if spec.issuer is not None and issuer != spec.issuer:
        return f"issuer differs: token {issuer}, provider {spec.issuer}"
    listed = ", ".join(audiences) or "none"
    return f"audience {spec.audience} is not in the token's aud ({listed})"


def _algorithm(run: _Run) -> bool:
    allowed = ", ".join(run.spec.algorithms)
    if run.jws is None:
        run.out.checks.append(Check("algorithm", "skipped", "claims given without a header"))
        return True
    alg = run.jws.header.get("alg")
    if not isinstance(alg, str) or alg not in run.spec.algorithms:
        error = InvalidRequest("token signature is not valid", "alg_not_allowed")
        run.out.refuse("algorithm", error, f"alg {alg} is not in the allow-list [{allowed}]")
        return False
    run.out.checks.append(Check("algorithm", "ok", f"alg {alg} is in the allow-list [{allowed}]"))
    return True


def _signature(run: _Run) -> bool:
    if run.jws is None:
        run.out.checks.append(Check("signature", "skipped", "claims given without a token"))
        return True
    if not run.verify:
        run.out.checks.append(Check("signature", "skipped", "not checked (pass --verify)"))
        return True
    source, why_not = offline_key_source(run.spec, run.prepared.check.loaded.root)
    if source is None:
        run.out.checks.append(Check("signature", "skipped", why_not))
        return True
    try:
        verify_signature(source, run.spec.algorithms, run.jws)
    except ExchangeError as exc:
        run.out.refuse("signature", exc, f"the signature does not verify ({exc.reason})")
        return False
    run.out.checks.append(Check("signature", "ok", f"verified with {why_not}"))
    return True


#: The check each refusal of `validate_claims` names.
_TIME_CHECKS = {"expired": "exp", "missing_exp": "exp", "not_yet_valid": "nbf",
                "iat_future": "iat"}


def _times(run: _Run) -> bool:
    """`exp`, `nbf`, `iat` shown against `now` and the leeway; refused by `validate_claims`."""
    leeway, now = run.spec.leeway, run.out.now
    lines: dict[str, str] = {}
    for name, absent in (("exp", "missing (required)"), ("nbf", "absent"), ("iat", "absent")):
        try:
            value = numeric_date(run.out.claims, name)
        except InvalidRequest:
            lines[name] = "not a number"
            continue
        lines[name] = absent if value is None else (
            f"{when(value)}: {delta(value - now)} (leeway {leeway}s)")
    try:
        validate_claims(run.out.claims, now, leeway)
    except InvalidRequest as exc:
        failed = _TIME_CHECKS.get(exc.reason, "claims")
        for name, detail in lines.items():
            if name == failed:
                break
            run.out.checks.append(Check(name, "ok", detail))
        reason = lines.get(failed, "exp, nbf, iat or sub is malformed")
        run.out.refuse(failed, exc, reason)
        return False
    run.out.checks += [Check(name, "ok", detail) for name, detail in lines.items()]
    return True


def _require(run: _Run) -> bool:
    assert run.prepared.bundle is not None and run.prepared.check.config is not None
    require = run.prepared.check.config.identity_providers[run.provider].require or {}
    verdicts = evaluate_require(require, run.out.claims, run.context)
    run.out.checks += condition_checks(verdicts, "require")
    try:
        check_requirements(run.prepared.bundle, run.provider, run.out.claims, run.context)
    except ExchangeError as exc:
        run.out.failed_check, run.out.error = first_failed(verdicts, "require"), exc
        return False
    return True


def _allowed(run: _Run) -> bool:
    assert run.prepared.bundle is not None
    target = run.prepared.bundle.config.token_providers[run.out.service]
    try:
        check_allowed(target, run.provider)
    except ExchangeError as exc:
        allowed = ", ".join(target.identity_providers or ())
        run.out.refuse("allow-list", exc, f"service {run.out.service} accepts only {allowed}")
        return False
    run.out.checks.append(Check("allow-list", "ok", f"service {run.out.service} accepts "
                                f"{run.provider}"))
    return True


def _identity_provider_mapping(run: _Run) -> bool:
    """The provider's mapping run by the reference interpreter, to show where each value came
    from; the intermediate claims that the service's conditions see come from the compiled
    function, as in the runtime."""
    assert run.prepared.bundle is not None and run.prepared.check.config is not None
    mapping = run.prepared.check.config.identity_providers[run.provider].mapping
    _traced(run, f"identity provider {run.provider} (token claims -> intermediate claims)",
            mapping, run.out.claims)
    try:
        run.intermediate = run_mapping(run.prepared.bundle.idp_mappings[run.provider],
                                       run.out.claims, run.context)
    except ExchangeError as exc:
        run.out.refuse("identity provider mapping", exc, exc.description)
        return False
    return True


def _service_conditions(run: _Run) -> bool:
    """The service's `require` on the intermediate claims: every part with its verdict."""
    assert run.prepared.bundle is not None and run.prepared.check.config is not None
    require = run.prepared.check.config.token_providers[run.out.service].require
    if not require:
        return True
    verdicts = evaluate_require(require, run.intermediate, run.context)
    run.out.checks += condition_checks(verdicts, "service require")
    try:
        check_service_requirements(run.prepared.bundle, run.out.service, run.intermediate,
                                   run.context)
    except ExchangeError as exc:
        run.out.failed_check = first_failed(verdicts, "service require")
        run.out.error = exc
        return False
    return True


def _service_mapping(run: _Run) -> bool:
    """The service's mapping by the reference interpreter; the compiled functions run in
    `_issue`, which names any refusal."""
    assert run.prepared.check.config is not None
    mapping = run.prepared.check.config.token_providers[run.out.service].mapping
    _traced(run, f"token provider {run.out.service} (intermediate claims -> issued claims)",
            mapping, run.intermediate)
    return True


def _issue(run: _Run) -> bool:
    assert run.prepared.bundle is not None
    try:
        decision = decide_matched(run.prepared.bundle, run.provider, run.out.claims,
                                  run.out.service, run.out.now, lambda: EXPLAIN_JTI)
    except ExchangeError as exc:
        run.out.refuse("issue", exc, exc.description)
        return False
    run.out.issued_claims = dict(decision.claims)
    return True


def _traced(run: _Run, title: str, mapping: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
    trace: list[Trace] = []
    output = apply_mapping(mapping, data, run.context, trace)
    by_output = {".".join(map(str, t.output)): t for t in trace}
    values = []
    for key, source in flatten_mapping(mapping).items():
        entry = by_output.get(key)
        if entry is None:  # a constant
            values.append(MappedValue(key, source, _lookup(output, key), True))
        elif entry.definite:
            found = bool(entry.matches)
            values.append(MappedValue(key, source, entry.matches[0] if found else None, found))
        else:
            values.append(MappedValue(key, source, list(entry.matches), True))
    run.out.mappings.append(MappingTrace(title, tuple(values)))
    return output


def _checked_before(run: _Run) -> bool:
    """`token_size` and `envelope`: the caller parsed the token with `jose.parse_compact`."""
    return True


def _not_signed(run: _Run) -> bool:
    """`signing`: an explanation issues nothing, so nothing is signed."""
    return True


#: How each step of `runtime.exchange.STEPS` is traced: False ends the trace (refused).
_TRACERS: Mapping[str, Callable[[_Run], bool]] = {
    "service": _service,
    "token_size": _checked_before,
    "envelope": _checked_before,
    "identity_provider": _match,
    "algorithm": _algorithm,
    "signature": _signature,
    "times": _times,
    "conditions": _require,
    "allowed_identity_provider": _allowed,
    "identity_provider_mapping": _identity_provider_mapping,
    "service_conditions": _service_conditions,
    "service_mapping": _service_mapping,
    "issued_claims": _issue,
    "signing": _not_signed,
}


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data
