"""The catalogue of finding codes: every code `check` can report, with its severity, a title and
help text.

A finding is built from an entry of this catalogue (`Diagnostic(E342, message, location)`), so a
code that is not catalogued cannot be reported and a finding's severity is always its code's.
`docs/diagnostics.md`'s tables (`python -m tokensmith.schema.codes_doc`) and the rule metadata of
the SARIF output are generated from here. Codes are stable (E1xx loading, E2xx schema with E26x
for presets, E3xx references, rules and mappings, Wxxx warnings); a code never changes meaning
and a retired code is not reused. Help texts are Markdown, one sentence or a few, written for
the person whose config has the finding.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


#: The page that documents every code, relative to the repository root; each code has an
#: anchor there (`docs/diagnostics.md#e342`). SARIF's `helpUri` is this page and the anchor.
DOCS_PAGE = "docs/diagnostics.md"


@dataclass(frozen=True, eq=False)
class Code:
    """One catalogued code. Entries are singletons, compared by identity."""

    id: str
    severity: Severity
    #: a few words, for SARIF's `shortDescription` and the docs table
    title: str
    #: what the finding means and what to do about it (Markdown)
    help: str

    @property
    def anchor(self) -> str:
        """The code's anchor in `DOCS_PAGE`."""
        return self.id.lower()

    @property
    def help_uri(self) -> str:
        """`docs/diagnostics.md#e342`: relative to the repository root."""
        return f"{DOCS_PAGE}#{self.anchor}"


_CATALOGUE: dict[str, Code] = {}


def _define(id: str, severity: Severity, title: str, help: str) -> Code:
    if id in _CATALOGUE:
        raise ValueError(f"{id} is catalogued twice")
    entry = _CATALOGUE[id] = Code(id, severity, title, help)
    return entry


def _error(id: str, title: str, help: str) -> Code:
    return _define(id, Severity.ERROR, title, help)


def _warning(id: str, title: str, help: str) -> Code:
    return _define(id, Severity.WARNING, title, help)


# --- loading: files, encoding, YAML ------------------------------------------------------------

E101 = _error("E101", "YAML syntax error",
    "YAML syntax error (located at the problem YAML reports), a character YAML does not allow, "
    "or more than one YAML document in a file")
E102 = _error("E102", "duplicate key",
    "the same key twice in one mapping (the message names the line of the first)")
E103 = _error("E103", "file is not UTF-8",
    "the file is not valid UTF-8 (located at the first bad byte)")
E104 = _error("E104", "empty file",
    "the file is empty (nothing but whitespace or comments)")
E105 = _error("E105", "top level is not a mapping",
    "the top level of a file is not a mapping")
E106 = _error("E106", "no config file in the directory",
    "a config directory holds no `*.yaml` or `*.yml` file")
E107 = _error("E107", "defined in two files",
    "a name (signing key, identity provider, token provider) or a top-level field is defined in "
    "two files of a config directory; located at the second, the message names the first "
    "`file:line` (`version` may be stated in every file: see E113)")
E108 = _error("E108", "YAML alias or merge key",
    "a YAML alias (`*name`) or merge key (`<<`): refused, so that every value has one place and "
    "no alias can expand exponentially; located at the anchored value the alias repeats")
E109 = _error("E109", "key is not a string",
    "a mapping key that is not a string (a number, boolean, null, list or mapping): quote it")
E110 = _error("E110", "value with no JSON equivalent",
    "a YAML tag or value with no JSON equivalent (`!!binary`, `!env`, any custom tag, `.inf`, "
    "`.nan`)")
E111 = _error("E111", "nesting too deep",
    "nesting deeper than 64 levels (or deeper than the YAML parser allows)")
E112 = _error("E112", "file too large",
    "a file larger than 16 MiB")
E113 = _error("E113", "files state different versions",
    "the files of a config directory state different `version`s. Each file may state the same "
    "`version: 1`, so that it reads on its own; located at the later file's value, the message "
    "names the first `file:line:col`")

# --- schema: fields and their types ------------------------------------------------------------

E200 = _error("E200", "unknown field",
    "unknown field, located at its key, with a did-you-mean (`jwks_uri` -> `jwks_url`) or the "
    "list of allowed fields")
E201 = _error("E201", "missing required field",
    "a required field is missing, located at the key of the object that lacks it (or at the "
    "list item)")
E202 = _error("E202", "wrong type",
    "a value of the wrong type: the message names the field path, what was expected and what "
    "kind of value was found (`expires_in`: a duration string or whole seconds)")
E203 = _error("E203", "value outside its set",
    "a value outside its set (algorithm, `claims`, `encoding`, `version` other than 1), with a "
    "did-you-mean (`rs256` -> `RS256`)")
E204 = _error("E204", "literal secret",
    "a secret written as a literal (a string or a number) where a reference goes (`secret`, "
    "`private_key`): write `{env: NAME}`, `{file: PATH}` or `{encrypted: TEXT}`; the value is "
    "never shown, and the `text` format cuts the quoted source line where it starts")
E205 = _error("E205", "the `none` algorithm",
    "the `none` algorithm, in any casing: it accepts unsigned tokens")
E206 = _error("E206", "malformed secret reference",
    "a secret reference without exactly one of `env`, `file`, `encrypted`")
E207 = _error("E207", "empty string",
    "an empty string where a value is needed (the top-level `issuer`, the name in a secret "
    "reference)")
E209 = _error("E209", "value refused by the model",
    "any other value the model refuses (the message names the field path)")

# --- schema: presets (expanded before the model sees the config; see docs/presets.md) ---------

E260 = _error("E260", "unknown preset",
    "unknown preset (with a did-you-mean)")
E261 = _error("E261", "missing preset parameter",
    "a required parameter is missing, or a field the preset needs beside it (Supabase's "
    "`secret`)")
E262 = _error("E262", "unknown preset parameter",
    "a field that is neither a parameter of this preset nor an identity provider field (with a "
    "did-you-mean)")
E263 = _error("E263", "empty preset parameter",
    "a parameter that is not a non-empty string")
E264 = _error("E264", "`preset` is not a string",
    "`preset` is not a string")

# --- mappings ----------------------------------------------------------------------------------

E300 = _error("E300", "invalid JSONPath",
    "a `.$` value that is not a valid JSONPath of the dialect: the parser's reason, with the "
    "caret on the offending character (or the end, when the path ends too early)")
E301 = _error("E301", "`.$` value is not a path",
    "the value of a `.$` key is not a string starting with `$` (a number, an object, a list, or "
    "a bare name such as `sub`, with `did you mean '$.sub'?`)")
E302 = _error("E302", "empty output key",
    'a key that gives an empty output key: `.$` or `""`')
E303 = _error("E303", "keys equal once `.$` is stripped",
    "two keys of one object that are equal once `.$` is stripped (`sub` and `sub.$`); located "
    "at the second, naming the first")
E304 = _error("E304", "path that no identity provider produces",
    "a token provider path `$.name...` (in its `mapping` or its `require` conditions) whose "
    "first name no allowed identity provider's mapping produces (allowed: the token provider's "
    "`identity_providers`, or all), so it never matches; did-you-mean among the produced "
    "top-level keys")
E305 = _error("E305", "unknown context name",
    "a `$$` path (mapping value or `require` key) that names something the context does not "
    "have: only `$$.identity_provider` and `$$.service` exist")
E306 = _error("E306", "reserved claim at the root",
    "a reserved claim (`iss`, `aud`, `exp`, `iat`, `nbf`, `jti`) produced at the root by a "
    "`claims: root` token provider: tokensmith sets those itself")
E307 = _error("E307", "`require` condition with an empty list",
    'a `require` condition whose value is an empty list: "one of nothing" never holds, so '
    "every token the condition applies to would be refused")
W300 = _warning("W300", "constant that looks like a path",
    "a constant string that looks like a path (`$.email`, `$$.service`) under a key without "
    "`.$`: it is copied as text; did you mean `key.$`?")
W301 = _warning("W301", "path that only some identity providers produce",
    "a token provider path (mapping or `require` condition) whose first name only some allowed "
    "identity providers produce; names the others, with whose tokens the path matches nothing")
W302 = _warning("W302", "`sub` from a mutable claim",
    "`sub` taken from a claim its owner or an administrator can change (`email`, "
    "`preferred_username`, `upn`, `unique_name`, `name`, `nickname`, `username`, `login`, "
    "`phone_number`, `given_name`, `family_name`)")
W303 = _warning("W303", "path that reaches unnamed claims",
    "a path over incoming claims (identity provider mapping value or `require` key) that "
    "reaches members its author did not name: recursive descent (`..`), or a wildcard, filter "
    "or union of names followed by a named step (`$.*.role`, "
    "`$['app_metadata','user_metadata'].role`). It also matches claims users can often set "
    "(Supabase's `user_metadata`). A slice (`$.teams[:].name`) never selects object members "
    "and is not reported")

# --- conditions (`require`, see docs/conditions.md) -------------------------------------------

E370 = _error("E370", "unknown condition operator",
    "an operator that the condition language does not have, located at its key, with a "
    "did-you-mean (also for names from other systems: `startsWith` -> `prefix`, `StringLike` "
    "-> `glob`). The operators: `prefix`, `suffix`, `glob`, `contains`, `gte`, `gt`, `lte`, "
    "`lt`, `exists`; to compare with an object, write it in a list (`[{...}]`, one of)")
E371 = _error("E371", "condition argument of the wrong type",
    "an operator or combinator given an argument of the wrong type, located at the argument: "
    "`prefix`, `suffix` and `glob` take a string, `contains` a string, number, boolean or "
    "null, `gte`/`gt`/`lte`/`lt` a number (`\"18\"` is a string, `true` is not a number), "
    "`exists` `true` or `false`; `any_of` and `all_of` a list of conditions objects, `not` a "
    "conditions object")
E372 = _error("E372", "empty condition",
    "a condition with nothing in it: `any_of: []` (never holds), `all_of: []`, `not: {}`, an "
    "empty conditions object in a list, or a path with no operator (`$.x: {}`)")
E373 = _error("E373", "condition that never holds",
    "a `require` that no token can meet, as seen at compile time: two different values "
    "required of one claim (`all_of` with `$.role: admin` and `$.role: owner`), a value that "
    "fails another operator on the same claim (`$.ref: main` with `{prefix: refs/}`), "
    "operators that exclude each other (`{gte: 10, lt: 5}`, `prefix` with `gte`, `exists: "
    "false` with anything else), `any_of` whose every alternative never holds, `not` of a "
    "condition that always holds, or a condition on `$$.service` or `$$.identity_provider` "
    "that no service or identity provider it applies to meets. Every token it applies to "
    "would be refused; located at the condition that decides it")
W370 = _warning("W370", "glob without a wildcard",
    "a `glob` pattern without `*` or `?`: it matches only that exact text; write the value "
    "itself (equality) to say so")
W371 = _warning("W371", "condition that always holds",
    "a condition that every token meets, as seen at compile time, so it has no effect: a "
    "condition on `$$.service` or `$$.identity_provider` that every service or identity "
    "provider it applies to meets (`$$.identity_provider: <this provider>`), `exists: true` "
    "on the context, `any_of` with an alternative that always holds, or `not` of a condition "
    "that never holds")
W372 = _warning("W372", "alternative that never holds",
    "an `any_of` alternative that no token can meet (for the reasons of E373): the other "
    "alternatives decide alone, which is rarely what was meant")
W373 = _warning("W373", "condition on a time claim",
    "a condition on `exp`, `iat` or `nbf` of the incoming token: tokensmith already checks "
    "them against the clock with the provider's `leeway` (and requires `exp`); a condition "
    "compares them with a fixed number written in the config, which does not move with time. "
    "Set `leeway` instead, unless a fixed date is really meant (such as refusing tokens "
    "issued before an incident)")

# --- semantic rules: identity providers --------------------------------------------------------

E320 = _error("E320", "identity provider without issuer or audience",
    "an identity provider with neither `issuer` nor `audience`: no token can be matched to it")
E321 = _error("E321", "empty `algorithms`",
    "`algorithms` is empty")
E322 = _error("E322", "HMAC and asymmetric algorithms mixed",
    "HMAC (HS*) and asymmetric algorithms in one allow-list (the algorithm-confusion setup)")
E323 = _error("E323", "HMAC algorithms without a `secret`",
    "HS* algorithms without a `secret` (the provider has `jwks_url`, `jwks` or `discovery` "
    "instead)")
E324 = _error("E324", "`secret` with asymmetric algorithms",
    "a `secret` with asymmetric algorithms (RS*, PS*, ES*, EdDSA verify with public keys)")
E325 = _error("E325", "no key source",
    "no key source: none of `jwks_url`, `jwks`, `secret`, `discovery: true`")
E326 = _error("E326", "more than one key source",
    "more than one key source (located at the second)")
E327 = _error("E327", "`discovery` without an `issuer`",
    "`discovery: true` without an `issuer` (discovery reads "
    "`<issuer>/.well-known/openid-configuration`)")
E328 = _error("E328", "`leeway` out of range",
    "`leeway` outside 0..300 seconds")
E330 = _error("E330", "key URL is not https",
    "a URL keys are fetched from (`jwks_url`, or `issuer` under `discovery: true`) is not "
    "https: another scheme, not absolute, or http to a host that is not loopback")
E331 = _error("E331", "key URL with a user name or password",
    "that URL holds a user name or password")
E329 = _error("E329", "key URL with a credential in its query or fragment",
    "that URL has a fragment, or a query parameter named like a credential (`api_key`, "
    "`token`, `sig`, ...); `GET /idps` lists key URLs to anyone, and key sets are public, so "
    "fetching them never needs one")
E332 = _error("E332", "key URL without a host",
    "that URL has no host")
E333 = _error("E333", "loopback http not allowed",
    "plain http to a loopback host without `allow_insecure_http: true`")
E334 = _error("E334", "`allow_insecure_http` without loopback http",
    "`allow_insecure_http: true` on a provider that fetches no loopback http URL")
E335 = _error("E335", "private members in an inline key",
    "an inline `jwks` key with private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`), "
    "located at the first of them")
E336 = _error("E336", "symmetric inline key",
    "an inline `jwks` key that is symmetric (`kty: oct`)")
E337 = _error("E337", "unusable inline key",
    "an inline `jwks` key the runtime cannot use: a bad or missing member, an unknown `kty` or "
    "curve, `use`/`key_ops` not for signatures, an `alg` that does not fit the key, or no "
    "algorithm of the provider's allow-list fits it")
E338 = _error("E338", "weak inline RSA key",
    "an inline RSA key under 2048 bits (or over 8192, or with an even or tiny exponent)")
E339 = _error("E339", "empty inline `jwks`",
    "an inline `jwks` with no keys")

# --- semantic rules: names and token providers -------------------------------------------------

E340 = _error("E340", "invalid service name",
    "a service name (token provider) outside `^[A-Za-z0-9_-]{1,128}$`")
E341 = _error("E341", "invalid identity provider or signing key name",
    "an identity provider or signing key name outside `^[A-Za-z0-9_.-]{1,128}$`")
E342 = _error("E342", "unknown signing key",
    "a token provider names a signing key that is not defined (did-you-mean, else the defined "
    "names)")
E343 = _error("E343", "unknown identity provider",
    "a token provider's `identity_providers` names one that is not defined (did-you-mean)")
E344 = _error("E344", "`expires_in` is not a duration",
    "`expires_in` is not a duration (`90s`, `30m`, `1h`, `1d`, or whole seconds)")
E345 = _error("E345", "`expires_in` is not positive",
    "`expires_in` is zero or negative")
W320 = _warning("W320", "`expires_in` over 24 hours",
    "`expires_in` over 24 hours")
E346 = _error("E346", "key material does not fit the algorithm",
    "a signing key whose material field does not fit its algorithm: HS* takes `secret`, the "
    "others `private_key`")

# --- semantic rules: issuers, `require`, CORS --------------------------------------------------

E350 = _error("E350", "two identity providers match the same token",
    "two identity providers can match the same token: the same issuer and audience, an "
    "issuer-only provider beside another with that issuer, or an audience-only provider beside "
    "another with that audience. The runtime refuses such tokens as ambiguous, so one of the "
    "two would never work")
E351 = _error("E351", "multi-tenant issuer without an `audience`",
    "a multi-tenant issuer without an `audience`: GitHub Actions "
    "`https://token.actions.githubusercontent.com`, GitLab `https://gitlab.com`, HCP Terraform "
    "`https://app.terraform.io`, Google `https://accounts.google.com` or `accounts.google.com`, "
    "Firebase `https://securetoken.google.com/...` (case and a final `/` ignored). Any tenant's "
    "token would match")
E352 = _error("E352", "CI issuer without an owner or project condition",
    "GitHub Actions, GitLab or HCP Terraform (by issuer, or by key URL for a provider without "
    "issuer) without a `require` condition on the owner or project: every repository can "
    "request any audience. The condition must pin one owner for every token (at the top of "
    "`require`, in its `all_of`, or in every `any_of` alternative): equality, one of a list, "
    "or a `prefix`/`glob` whose fixed start goes past the owner and a `/` "
    "(`repo:my-org/*`); `{prefix: my-org}` would also admit `my-org-evil`. Accepted paths "
    "(one step): GitHub "
    "`$.repository_owner`, `$.repository_owner_id`, `$.repository`, `$.repository_id`, "
    "`$.sub`; GitLab `$.namespace_path`, `$.namespace_id`, `$.project_path`, `$.project_id`, "
    "`$.sub`; HCP Terraform `$.terraform_organization_id`, `$.terraform_organization_name`, "
    "`$.sub`")
E353 = _error("E353", "identity provider trusts tokensmith's own issuer",
    "an identity provider trusts tokensmith's own issuer (the top-level `issuer` or a token "
    "provider's `issuer`): exchanging issued tokens again would turn one service's token into "
    "another's, and the runtime never matches those issuers")
E354 = _error("E354", "shared CI keys without an `issuer`",
    "an identity provider without an `issuer` whose `jwks_url` serves the keys of a shared CI "
    "platform (host `token.actions.githubusercontent.com`, `gitlab.com`, `app.terraform.io`): "
    "every repository or project can get a token with the audience it wants, signed by those "
    "keys. E352 then applies to it too (recognised by its key URL); a provider with an issuer "
    "of its own, such as a GitHub Enterprise issuer, is judged by its issuer")
W322 = _warning("W322", "audience of tokensmith's own tokens",
    "an audience-only identity provider whose `audience` is that of tokensmith's own tokens for "
    "a service (its `audience`, or its name by default): the way one would chain two services, "
    "which the runtime refuses (it never accepts its own tokens as subject tokens)")
E355 = _error("E355", "`require` key is not a JSONPath",
    "a key of a `require` conditions object (identity provider or token provider, at any "
    "depth) that is neither a combinator (`any_of`, `all_of`, `not`) nor a valid JSONPath of "
    "the mapping dialect, with the parser's reason and the character (or a did-you-mean for a "
    "misspelt combinator)")
E356 = _error("E356", "CORS entry is not an origin",
    "a `cors.allow_origins` entry that is not an origin: `scheme://host[:port]`, no path (not "
    "even `/`), query or fragment, https unless the host is loopback")
W321 = _warning("W321", "CORS wildcard origin",
    "`cors.allow_origins` contains `*`: any web page can exchange its visitors' tokens")
E357 = _error("E357", "CORS entry is not a header name",
    "a `cors.allow_headers` entry that is not an HTTP header name (letters, digits and "
    "``!#$%&'*+-.^_`|~``), or the wildcard `*`: list the request headers by name")
W323 = _warning("W323", "CORS header listed for nothing",
    "a `cors.allow_headers` entry that preflights already allow (`Content-Type`, "
    "`X-Request-Id`, `X-StateBacked-Org-Id`, `X-StateBacked-Act`) or that is listed twice "
    "(header names ignore case)")

# --- semantic rules: the tests section ---------------------------------------------------------

E360 = _error("E360", "test names an unknown service",
    "a test names a service that is not defined (did-you-mean)")
E361 = _error("E361", "test expects an unknown identity provider",
    "a test expects an identity provider that is not defined (did-you-mean)")
E362 = _error("E362", "test expects `claims` and `claims_subset`",
    "a test's `expect` has both `claims` and `claims_subset`")
E363 = _error("E363", "test expects nothing",
    "a test's `expect` checks nothing: none of `error`, `claims`, `claims_subset`, "
    "`identity_provider`")
E364 = _error("E364", "test expects an error and a success",
    "a test's `expect` has an `error` and also a success outcome (`claims`, `claims_subset` or "
    "`identity_provider`)")
E365 = _error("E365", "test expects an identity provider its service leaves out",
    "a test expects an identity provider that its service's `identity_providers` allow-list "
    "leaves out: the exchange can only fail")

E366 = _error("E366", "test name with a control character",
    "a test's `name` holds a line break, a tab or another control or format character: "
    "`tokensmith test` prints names in CI logs, where a line break could write a command the "
    "CI obeys (GitHub's `::error`, `::add-mask::`)")


#: Every catalogued code by its id, in the order above (which is also the docs' order).
CATALOGUE: Mapping[str, Code] = MappingProxyType(_CATALOGUE)
