"""Rules relating identity providers to each other and to tokensmith's own issuer.

Each is linear: providers are indexed by issuer and audience once, never compared in pairs.

Codes: E350 two identity providers can match the same token (the runtime refuses such tokens
as ambiguous, so one of them never works); E351 a multi-tenant issuer without an `audience`;
E352 GitHub Actions, GitLab or HCP Terraform (by issuer, or by key URL when there is no
issuer) without a `require` condition that pins the owner or project; E353 an identity provider
trusting tokensmith's own issuer; E354 the keys of a shared CI platform without an `issuer`;
W322 an audience-only provider matching the audience of tokensmith's own tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

from tokensmith.schema.codes import E350, E351, E352, E353, E354, W322
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import Location, SourceMap
from tokensmith.schema.models import Config, IdentityProvider
from tokensmith.schema.validate import Refused

from ..mappings.conditions import AllOf, AnyOf, Leaf, Node, parse_conditions
from ._common import ReferenceRule, Rule, idp_path, place
from ._tenants import MultiTenantIssuer, multi_tenant_issuer, shared_ci_keys


def _matching_field(idp: IdentityProvider) -> str:
    return "issuer" if idp.issuer is not None else "audience"


def ambiguous_providers(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    """Report each provider that a token could match together with an earlier one."""
    by_pair: dict[tuple[str, str], str] = {}
    issuer_only: dict[str, str] = {}
    audience_only: dict[str, str] = {}
    any_issuer: dict[str, str] = {}
    any_audience: dict[str, str] = {}
    for name, idp in config.identity_providers.items():
        issuer, audience = idp.issuer, idp.audience
        other = None
        if issuer is not None and audience is not None:
            other = by_pair.get((issuer, audience)) or issuer_only.get(issuer)
            other = other or audience_only.get(audience)
            by_pair.setdefault((issuer, audience), name)
        elif issuer is not None:
            other = any_issuer.get(issuer)
            issuer_only.setdefault(issuer, name)
        elif audience is not None:
            other = any_audience.get(audience)
            audience_only.setdefault(audience, name)
        if issuer is not None:
            any_issuer.setdefault(issuer, name)
        if audience is not None:
            any_audience.setdefault(audience, name)
        if other is not None:
            yield _ambiguous(name, other, config, source_map)


def _ambiguous(name: str, other: str, config: Config, source_map: SourceMap) -> Diagnostic:
    idp, first = config.identity_providers[name], config.identity_providers[other]
    claims = []
    if idp.issuer is not None or first.issuer is not None:
        claims.append(f"iss '{idp.issuer if idp.issuer is not None else first.issuer}'")
    if idp.audience is not None or first.audience is not None:
        claims.append(f"aud '{idp.audience if idp.audience is not None else first.audience}'")
    return Diagnostic(
        E350,
        f"identity providers '{other}' ({place(source_map, idp_path(other))}) and '{name}' both "
        f"match a token with {' and '.join(claims)}; the runtime refuses such tokens as ambiguous",
        source_map.value(idp_path(name, _matching_field(idp))),
        "give each provider its own issuer and audience pair, or merge them",
    )


def multi_tenant_needs_audience(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        tenant = multi_tenant_issuer(idp.issuer)
        if tenant is not None and idp.audience is None:
            yield Diagnostic(
                E351,
                f"identity provider '{name}' trusts {tenant.label} without an `audience`: "
                f"{tenant.audience_reason}",
                source_map.value(idp_path(name, "issuer")),
                f"set `audience` to {tenant.audience_example}",
            )


def _pins_owner(idp: IdentityProvider, owner_claims: tuple[str, ...]) -> bool:
    """Whether `require` pins one of `owner_claims` for every token it admits.

    Only a definite one-step path counts, written where every token must meet it (the
    conditions object itself or its `all_of` parts, or in each alternative of an `any_of`), with
    a test that names one value: equality or one of a list, or a `prefix` or `glob` whose fixed
    start reaches past an owner and a `/` (`repo:acme/*`, `acme/*`): `{prefix: acme}` would
    also admit `acme-evil`, and `exists` or a `not` admit anyone.
    """
    tree, _ = parse_conditions(idp.require or {})  # shape problems: E35x/E37x report them
    return _pinned(tree, owner_claims)


def _pinned(node: Node, owner_claims: tuple[str, ...]) -> bool:
    if isinstance(node, AllOf):
        return any(_pinned(item, owner_claims) for item in node.items)
    if isinstance(node, AnyOf):
        return bool(node.alternatives) and all(
            _pinned(alternative, owner_claims) for alternative in node.alternatives)
    if isinstance(node, Leaf):
        steps = node.path.steps
        on_owner = node.path.root == "input" and steps is not None and len(steps) == 1 and (
            steps[0] in owner_claims)
        return on_owner and any(_names_one_owner(t.op, t.arg) for t in node.tests)
    return False


def _names_one_owner(op: str, arg: object) -> bool:
    if op in ("equals", "one_of"):
        return bool(arg)
    if op not in ("prefix", "glob") or not isinstance(arg, str):
        return False
    fixed = arg if op == "prefix" else arg.split("*", 1)[0].split("?", 1)[0]
    if op == "glob" and fixed == arg:
        return True  # no wildcard: one exact value
    slash = fixed.find("/")
    return slash > 0 and fixed[slash - 1] not in ":/"


def _ci_platform(idp: IdentityProvider) -> MultiTenantIssuer | None:
    """The shared CI platform of a provider: by its issuer, or by its keys when it has none.

    With an issuer of its own (a GitHub Enterprise issuer on the same key host, say) the keys'
    host says nothing about who else gets tokens, so only an issuer-less provider is judged by it.
    """
    tenant = (
        multi_tenant_issuer(idp.issuer) if idp.issuer is not None else shared_ci_keys(idp.jwks_url)
    )
    return tenant if tenant is not None and tenant.owner_claims else None


def shared_issuer_needs_condition(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        tenant = _ci_platform(idp)
        if tenant is None or _pins_owner(idp, tenant.owner_claims):
            continue
        yield Diagnostic(
            E352,
            f"identity provider '{name}' trusts {tenant.label} without a `require` condition "
            f"on the owner or project: every {tenant.tenant_word} on it can get a token with "
            "any audience, so this would accept tokens from all of them",
            _condition_place(name, idp, source_map),
            _owner_hint(tenant),
        )


def shared_ci_keys_need_issuer(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    """An audience-only provider on a CI platform's keys accepts any tenant's token."""
    for name, idp in config.identity_providers.items():
        tenant = shared_ci_keys(idp.jwks_url) if idp.issuer is None else None
        if tenant is None:
            continue
        yield Diagnostic(
            E354,
            f"identity provider '{name}' verifies with the keys of {tenant.label} but sets no "
            f"`issuer`: every {tenant.tenant_word} on the platform can get a token with the "
            "audience it wants, signed by those keys",
            source_map.value(idp_path(name, "jwks_url")),
            f"set `issuer: {tenant.issuer}` and a `require` condition on the owner or project",
        )


def _condition_place(name: str, idp: IdentityProvider, source_map: SourceMap) -> Location:
    if idp.require:
        return source_map.key(idp_path(name, "require"))
    return source_map.value(idp_path(name, "issuer" if idp.issuer is not None else "jwks_url"))


def _owner_hint(tenant: MultiTenantIssuer) -> str:
    claims = ", ".join(f"$.{claim}" for claim in tenant.owner_claims)
    first = tenant.owner_claims[0]
    return f"add a `require` condition on one of {claims}, e.g. `$.{first}: <{first}>`"


def not_own_issuer(
    config: Config, source_map: SourceMap, refused: Refused
) -> Iterator[Diagnostic]:
    """Trusting the runtime's own issuer lets one service's token be exchanged for another's.

    A top-level `issuer` that the schema refused is unknown: only the token providers' count."""
    own = {} if "issuer" in refused.fields else {config.issuer: place(source_map, ("issuer",))}
    for service, provider in config.token_providers.items():
        if provider.issuer is not None:
            own.setdefault(
                provider.issuer, place(source_map, ("token_providers", service, "issuer"))
            )
    for name, idp in config.identity_providers.items():
        if idp.issuer is not None and idp.issuer in own:
            yield Diagnostic(
                E353,
                f"identity provider '{name}' trusts '{idp.issuer}', the issuer of tokensmith's "
                f"own tokens ({own[idp.issuer]}); exchanging issued tokens again would turn one "
                "service's token into another's, so the runtime never matches this issuer",
                source_map.value(idp_path(name, "issuer")),
                "tokensmith's own tokens are for services, not for exchange: use another issuer",
            )


def audience_only_not_own_audience(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    """An audience-only provider matching the `aud` of tokensmith's own tokens: the way one
    would (wrongly) chain two services, which the runtime refuses."""
    own: dict[str, str] = {}
    for service, provider in config.token_providers.items():
        own.setdefault(provider.audience if provider.audience is not None else service, service)
    for name, idp in config.identity_providers.items():
        if idp.issuer is None and idp.audience is not None and idp.audience in own:
            yield Diagnostic(
                W322,
                f"identity provider '{name}' matches tokens for the audience '{idp.audience}', "
                f"which tokensmith's own tokens for the service '{own[idp.audience]}' carry; "
                "the runtime never accepts its own tokens as subject tokens",
                source_map.value(idp_path(name, "audience")),
                "give the provider an `issuer`, or a service an audience of its own",
            )


RULES: tuple[Rule, ...] = (
    ambiguous_providers,
    multi_tenant_needs_audience,
    shared_issuer_needs_condition,
    shared_ci_keys_need_issuer,
    audience_only_not_own_audience,
)
REFERENCE_RULES: tuple[ReferenceRule, ...] = (not_own_issuer,)
