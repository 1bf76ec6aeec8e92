"""Identity provider presets: `preset: auth0` plus its parameters, expanded to plain fields.

A preset fills in what a well-known identity provider always uses (issuer, audience, key source,
algorithms, and for CI providers a `require` condition that pins the owner or project). CI presets
also take lists of patterns (`branches`, `environments`) that become `require` conditions on the
claim that names them (`Pattern`). Fields written beside the preset win over what it derives;
`require` conditions are merged, the user's condition winning on the same path, and `all_of`
lists joined. Expansion runs on the loaded plain data, before model
validation, so every later finding about a derived field points at the user's `preset:` line.

Codes: E260 unknown preset, E261 missing parameter, E262 unknown parameter, E263 parameter value
not a non-empty string, E264 `preset` not a string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .codes import E260, E261, E262, E263, E264, Code
from .diagnostics import Diagnostic, did_you_mean, looks_secret
from .location import ConfigPath, Location, SourceMap

#: Every field an identity provider may have besides a preset's parameters.
PROVIDER_FIELDS = frozenset({
    "preset", "issuer", "audience", "jwks_url", "jwks", "secret", "discovery", "algorithms",
    "leeway", "require", "mapping", "allow_insecure_http",
})
#: Fields that choose where the keys come from: one given by the user replaces the preset's.
KEY_SOURCE_FIELDS = ("jwks_url", "jwks", "secret", "discovery")

Params = Mapping[str, str]
Expander = Callable[[Params], dict[str, Any]]


@dataclass(frozen=True)
class Pattern:
    """An optional parameter that takes patterns (a string or a list of them; `*` any run of
    characters, `?` one): a token passes when the claim at `path`, less `prefix`, matches one of
    them, and every condition of `also` holds (e.g. that the ref is a branch, not a tag)."""

    path: str
    prefix: str = ""
    also: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def conditions(self, patterns: tuple[str, ...]) -> tuple[dict[str, Any], list[Any]]:
        """`require` entries and `all_of` items that say `patterns`: literal names as one-of
        (`$.ref: [refs/heads/main]`), one wildcard pattern as a glob, several as an `any_of`."""
        values = [self.prefix + pattern for pattern in patterns]
        globs = [v for v in values if "*" in v or "?" in v]
        entries: dict[str, Any] = dict(self.also)
        if not globs:
            entries[self.path] = values
            return entries, []
        if len(values) == 1:
            entries[self.path] = {"glob": values[0]}
            return entries, []
        alternatives = [{self.path: {"glob": v} if v in globs else v} for v in values]
        return entries, [{"any_of": alternatives}]


@dataclass(frozen=True)
class Preset:
    """One preset: its parameters, the provider fields it needs beside it, and its expansion."""

    name: str
    summary: str
    required: tuple[str, ...]
    expand: Expander
    optional: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: ordinary fields the user must write beside the preset, with why, e.g. a secret
    needs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: optional parameters that take patterns and become `require` conditions
    patterns: Mapping[str, Pattern] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def parameters(self) -> tuple[str, ...]:
        return (*self.required, *self.optional, *self.patterns)

    def pattern_require(self, given: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
        """The `require` conditions that the given pattern parameters become."""
        require: dict[str, Any] = {}
        all_of: list[Any] = []
        for name, pattern in self.patterns.items():
            if name in given:
                entries, items = pattern.conditions(given[name])
                require.update(entries)
                all_of += items
        if all_of:
            require["all_of"] = all_of
        return require


def _jwks(issuer: str, jwks_url: str, audience: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"issuer": issuer, "jwks_url": jwks_url, "algorithms": ["RS256"]}
    if audience is not None:
        fields["audience"] = audience
    return fields


def _auth0(p: Params) -> dict[str, Any]:
    base = f"https://{p['domain']}/"
    return _jwks(base, f"{base}.well-known/jwks.json", f"{base}api/v2/")


def _cognito(p: Params) -> dict[str, Any]:
    issuer = f"https://cognito-idp.{p['region']}.amazonaws.com/{p['user_pool_id']}"
    return _jwks(issuer, f"{issuer}/.well-known/jwks.json")


def _supabase(p: Params) -> dict[str, Any]:
    return {
        "issuer": f"https://{p['project']}.supabase.co/auth/v1",
        "audience": "authenticated",
        "algorithms": ["HS256"],
    }


def _clerk(p: Params) -> dict[str, Any]:
    issuer = f"https://{p['frontend_api']}"
    return _jwks(issuer, f"{issuer}/.well-known/jwks.json")


def _firebase(p: Params) -> dict[str, Any]:
    jwks = "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
    return _jwks(f"https://securetoken.google.com/{p['project_id']}", jwks, p["project_id"])


def _google(p: Params) -> dict[str, Any]:
    jwks = "https://www.googleapis.com/oauth2/v3/certs"
    return _jwks("https://accounts.google.com", jwks, p["client_id"])


def _github_actions(p: Params) -> dict[str, Any]:
    issuer = "https://token.actions.githubusercontent.com"
    # GitHub's default audience when a workflow asks for none is the owner's URL
    audience = p.get("audience") or f"https://github.com/{p['owner']}"
    fields = _jwks(issuer, f"{issuer}/.well-known/jwks", audience)
    fields["require"] = {"$.repository_owner": p["owner"]}
    return fields


def _gitlab(p: Params) -> dict[str, Any]:
    base = (p.get("url") or "https://gitlab.com").rstrip("/")
    fields = _jwks(base, f"{base}/oauth/discovery/keys", p["audience"])
    fields["require"] = {"$.project_path": p["project"]}
    return fields


def _okta(p: Params) -> dict[str, Any]:
    issuer = f"https://{p['domain']}/oauth2/{p.get('authorization_server') or 'default'}"
    return _jwks(issuer, f"{issuer}/v1/keys", "api://default")


def _azure_ad(p: Params) -> dict[str, Any]:
    base = f"https://login.microsoftonline.com/{p['tenant_id']}"
    return _jwks(f"{base}/v2.0", f"{base}/discovery/v2.0/keys", p["audience"])


def _table(*presets: Preset) -> Mapping[str, Preset]:
    return MappingProxyType({preset.name: preset for preset in presets})


PRESETS: Mapping[str, Preset] = _table(
    Preset("auth0", "Auth0 tenant", ("domain",), _auth0),
    Preset("cognito", "Amazon Cognito user pool", ("region", "user_pool_id"), _cognito),
    Preset("supabase", "Supabase Auth (legacy JWT secret)", ("project",), _supabase,
           needs=MappingProxyType({"secret": "the project's JWT secret, e.g. "
                                             "{env: SUPABASE_JWT_SECRET}"})),
    Preset("clerk", "Clerk instance", ("frontend_api",), _clerk),
    Preset("firebase", "Firebase Authentication", ("project_id",), _firebase),
    Preset("google", "Google Sign-In ID tokens", ("client_id",), _google),
    Preset("github-actions", "GitHub Actions OIDC", ("owner",), _github_actions,
           optional=MappingProxyType({"audience": "https://github.com/<owner>"}),
           patterns=MappingProxyType({
               # `ref` is `refs/heads/<branch>` for a branch (`refs/tags/...` for a tag)
               "branches": Pattern("$.ref", "refs/heads/"),
               # present only when the job names an environment: then a job without one fails
               "environments": Pattern("$.environment"),
           })),
    Preset("gitlab", "GitLab CI/CD ID tokens", ("project", "audience"), _gitlab,
           optional=MappingProxyType({"url": "https://gitlab.com"}),
           patterns=MappingProxyType({
               # GitLab's `ref` is the bare name of a branch or a tag: a tag named like a
               # protected branch must not pass, so the ref must be a branch
               "branches": Pattern("$.ref", also=MappingProxyType({"$.ref_type": "branch"})),
           })),
    Preset("okta", "Okta authorization server", ("domain",), _okta,
           optional=MappingProxyType({"authorization_server": "default"})),
    Preset("azure-ad", "Microsoft Entra ID (Azure AD) v2.0", ("tenant_id", "audience"), _azure_ad),
)


def json_schema_fragment() -> dict[str, Any]:
    """What the JSON Schema of an identity provider gains from presets.

    `properties` are added to the identity provider object's properties; `allOf` holds one
    if/then per preset that requires its parameters when `preset` names it.
    """
    properties: dict[str, Any] = {
        "preset": {"enum": sorted(PRESETS), "description": "a well-known identity provider; "
                   "fields written beside it override what it derives"},
    }
    text = {"type": "string", "minLength": 1}
    for preset in PRESETS.values():
        for param in preset.patterns:
            properties.setdefault(param, {
                "description": "patterns (`*` any run of characters, `?` one character) that "
                "become `require` conditions",
                "anyOf": [text, {"type": "array", "items": text, "minItems": 1}],
            })
        for param in preset.parameters:
            properties.setdefault(param, text)
    all_of = [
        {"if": {"properties": {"preset": {"const": p.name}}, "required": ["preset"]},
         "then": {"required": [*p.required, *p.needs]}}
        for p in PRESETS.values()
    ]
    return {"properties": properties, "allOf": all_of}


@dataclass
class _Expansion:
    """Working state of one expansion: new locations and findings."""

    keys: dict[ConfigPath, Location]
    values: dict[ConfigPath, Location]
    diagnostics: list[Diagnostic]
    source_map: SourceMap

    def fail(
        self, code: Code, message: str, where: Location, hint: str | None = None,
        secret_at: Location | None = None,
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, where, hint, secret_at=secret_at))


def expand_presets(
    data: dict[str, Any], source_map: SourceMap
) -> tuple[dict[str, Any], SourceMap, list[Diagnostic], frozenset[str]]:
    """Expand every `preset:` of `data["identity_providers"]`; the input is not changed.

    Returns the expanded data, its source map, the findings, and the names of the providers
    whose preset did not expand (the schema leaves them out rather than report the fields the
    preset would have filled in).

    Derived fields are located at the `preset:` key (their values at its value), so a later
    finding about them points at the user's own line. A provider with a bad preset keeps only
    the fields the user wrote, minus the preset and its parameters, and gets a finding here.
    """
    providers = data.get("identity_providers")
    if not isinstance(providers, dict) or not any(
        isinstance(p, dict) and "preset" in p for p in providers.values()
    ):
        return data, source_map, [], frozenset()
    work = _Expansion(dict(source_map.keys), dict(source_map.values), [], source_map)
    expanded: dict[str, Any] = {}
    failed: set[str] = set()
    for name, provider in providers.items():
        before = len(work.diagnostics)
        is_entry = isinstance(provider, dict)
        expanded[name] = _expand_one(name, provider, work) if is_entry else provider
        if len(work.diagnostics) > before:
            failed.add(name)
    new_map = SourceMap(
        keys=MappingProxyType(work.keys),
        values=MappingProxyType(work.values),
        texts=source_map.texts,
    )
    return {**data, "identity_providers": expanded}, new_map, work.diagnostics, frozenset(failed)


def _expand_one(name: str, provider: dict[str, Any], work: _Expansion) -> dict[str, Any]:
    if "preset" not in provider:
        return provider
    path: ConfigPath = ("identity_providers", name)
    where = work.source_map.value((*path, "preset"))
    preset_name = provider["preset"]
    if not isinstance(preset_name, str):
        work.fail(E264, "`preset` must be the name of a preset", where,
                  f"one of: {', '.join(sorted(PRESETS))}")
        return _strip(provider)
    preset = PRESETS.get(preset_name)
    if preset is None:
        hint = did_you_mean(preset_name, sorted(PRESETS)) or f"one of: {', '.join(sorted(PRESETS))}"
        work.fail(E260, f"unknown preset '{preset_name}'", where, hint)
        return _strip(provider)
    parameters = _parameters(name, provider, preset, work)
    if parameters is None:
        return _strip(provider)
    params, patterns = parameters
    derived = preset.expand(params)
    from_patterns = preset.pattern_require(patterns)
    if from_patterns:
        derived["require"] = {**derived.get("require", {}), **from_patterns}
    return _merge(path, provider, preset, derived, work)


def _strip(provider: dict[str, Any]) -> dict[str, Any]:
    """The provider's ordinary fields: without `preset`, its parameters and unknown keys (those
    were reported here; the model must not report them twice)."""
    return {k: v for k, v in provider.items() if k != "preset" and k in PROVIDER_FIELDS}


def _parameters(
    name: str, provider: dict[str, Any], preset: Preset, work: _Expansion
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]] | None:
    """The preset's parameters from the provider's fields (strings, and the pattern parameters'
    tuples of patterns), or None after reporting problems."""
    path: ConfigPath = ("identity_providers", name)
    before = len(work.diagnostics)
    params: dict[str, str] = {}
    patterns: dict[str, tuple[str, ...]] = {}
    for key, value in provider.items():
        if key in preset.patterns:
            given = _patterns(value)
            if given is None:
                work.fail(E263, f"preset parameter `{key}` must be a non-empty string or a "
                          "list of them", work.source_map.value((*path, key)),
                          f"e.g. `{key}: [main, 'release/*']`")
            else:
                patterns[key] = given
        elif key in preset.parameters:
            if isinstance(value, str) and value.strip():
                params[key] = value
            else:
                work.fail(E263, f"preset parameter `{key}` must be a non-empty string",
                          work.source_map.value((*path, key)))
        elif key not in PROVIDER_FIELDS:
            hint = did_you_mean(key, [*preset.parameters, *sorted(PROVIDER_FIELDS)])
            known = ", ".join(preset.parameters)
            # a misspelt `secret:` may hold the secret itself: its line is shown cut there
            secret_at = work.source_map.value((*path, key)) if looks_secret(key) else None
            work.fail(E262, f"unknown parameter `{key}` for preset {preset.name} "
                      f"(it takes {known})", work.source_map.key((*path, key)), hint, secret_at)
    preset_key = work.source_map.key((*path, "preset"))
    for missing in preset.required:
        if missing not in provider:
            work.fail(E261, f"preset {preset.name} needs the parameter `{missing}`", preset_key)
    for needed, why in preset.needs.items():
        if needed not in provider and not any(k in provider for k in KEY_SOURCE_FIELDS):
            work.fail(E261, f"preset {preset.name} needs `{needed}` beside it: {why}",
                      preset_key)
    return (params, patterns) if len(work.diagnostics) == before else None


def _patterns(value: object) -> tuple[str, ...] | None:
    """A pattern parameter's value: one non-empty string or a non-empty list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return None
    if not all(isinstance(item, str) and item.strip() for item in items):
        return None
    return tuple(dict.fromkeys(items))


def _merge(
    path: ConfigPath,
    provider: dict[str, Any],
    preset: Preset,
    derived: dict[str, Any],
    work: _Expansion,
) -> dict[str, Any]:
    """The user's fields over the derived ones; new fields located at the `preset:` line."""
    user = _strip(provider)
    if any(k in user for k in KEY_SOURCE_FIELDS):
        derived = {k: v for k, v in derived.items() if k not in KEY_SOURCE_FIELDS}
    result = dict(user)
    key_at = work.source_map.key((*path, "preset"))
    value_at = work.source_map.value((*path, "preset"))
    for field_name, value in derived.items():
        if field_name == "require" and isinstance(user.get("require"), dict):
            result["require"] = _merged_require(path, value, user["require"], work)
            continue
        if field_name in user:
            continue
        result[field_name] = value
        _locate(work, (*path, field_name), key_at, value_at)
    return result


def _merged_require(
    path: ConfigPath, derived: dict[str, Any], user: dict[str, Any], work: _Expansion
) -> dict[str, Any]:
    """The preset's conditions stay unless the user conditions the same path; `all_of` lists
    are joined, the user's items first (so their places in the file keep their indexes)."""
    key_at = work.source_map.key((*path, "preset"))
    value_at = work.source_map.value((*path, "preset"))
    merged = {**derived, **user}
    for condition in derived:
        if condition not in user:
            _locate(work, (*path, "require", condition), key_at, value_at)
    mine, theirs = user.get("all_of"), derived.get("all_of")
    if isinstance(mine, list) and isinstance(theirs, list):
        merged["all_of"] = [*mine, *theirs]
        for index in range(len(mine), len(mine) + len(theirs)):
            _locate(work, (*path, "require", "all_of", index), key_at, value_at)
    return merged


def _locate(work: _Expansion, path: ConfigPath, key_at: Location, value_at: Location) -> None:
    work.keys[path] = key_at
    work.values[path] = value_at
