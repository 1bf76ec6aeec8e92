"""The config model (`docs/config.md`): frozen pydantic models that refuse unknown fields.

The models check shapes and types. Rules that relate fields to each other (exactly one key
source, algorithm families, name patterns, bounds, references between sections) live in
`compiler/rules/`, where each has its own code and a precise location. Scalars are strict: a
number is not accepted where a string goes, nor `"yes"` where a boolean goes.

Errors raised here with a custom type (`secret_literal`, `algorithm_none`, `secret_ref_shape`,
`duration_type`) are turned into their own diagnostic codes by `schema/validate.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic import StrictStr as Str
from pydantic_core import PydanticCustomError

from .durations import parse_duration

ALGORITHMS = (
    "HS256", "HS384", "HS512",
    "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512",
    "EdDSA",
)  # fmt: skip
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ENCODINGS = ("utf8", "base64", "base64url")
SECRET_FORMS = "{env: NAME}, {file: PATH} or {encrypted: TEXT}"


def _refuse_none_algorithm(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "none":
        raise PydanticCustomError(
            "algorithm_none", "the 'none' algorithm accepts unsigned tokens and is never allowed"
        )
    return value


def _refuse_literal_secret(value: Any) -> Any:
    # The message must never contain the value: it may be the secret itself.
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        raise PydanticCustomError(
            "secret_literal",
            "a secret is a reference, never a literal value: write " + SECRET_FORMS,
        )
    return value


def _duration_type(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError(
            "duration_type", "expected a duration such as 90s, 30m, 1h or 1d, or whole seconds"
        )
    return value


Algorithm = Annotated[
    Literal[
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA",
    ],
    BeforeValidator(_refuse_none_algorithm),
]  # fmt: skip

#: A string that must not be empty (an empty one is E207).
NonEmpty = Annotated[Str, Field(min_length=1)]

#: A JSON-like value as loaded from YAML (mappings, lists, strings, numbers, booleans, null).
Json = Any
#: Duration: `90s`, `30m`, `1h`, `1d`, or whole seconds. `parse_duration` reads it.
Duration = Annotated[Str | StrictInt, BeforeValidator(_duration_type)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretRef(_Model):
    """Where a secret comes from: exactly one of `env`, `file`, `encrypted`; never the secret."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["env"]}, {"required": ["file"]}, {"required": ["encrypted"]}]
        },
    )

    env: NonEmpty | None = None
    file: NonEmpty | None = None
    encrypted: NonEmpty | None = None
    encoding: Literal["utf8", "base64", "base64url"] = "utf8"

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SecretRef:
        if sum(v is not None for v in (self.env, self.file, self.encrypted)) != 1:
            raise PydanticCustomError(
                "secret_ref_shape", "a secret reference has exactly one of env, file, encrypted"
            )
        return self

    @property
    def kind(self) -> str:
        """`env`, `file` or `encrypted`."""
        if self.env is not None:
            return "env"
        return "file" if self.file is not None else "encrypted"

    @property
    def reference(self) -> str:
        """What the `kind` field holds: a variable name, a path, or sealed text."""
        value = self.env if self.env is not None else self.file or self.encrypted
        assert value is not None  # the validator above guarantees exactly one
        return value

    def describe(self) -> str:
        """A safe description for messages: the variable or path, never encrypted text."""
        if self.kind == "encrypted":
            return "an {encrypted} secret"
        return f"{{{self.kind}: {self.reference}}}"


#: A secret field: a reference; a plain string is refused with `secret_literal`.
Secret = Annotated[SecretRef, BeforeValidator(_refuse_literal_secret)]


class Cors(_Model):
    """Browser access to the runtime."""

    allow_origins: tuple[Str, ...] = ()
    #: request headers a preflight allows beside the defaults (see `runtime.cors`)
    allow_headers: tuple[Str, ...] = ()


class SigningKey(_Model):
    """A key that signs issued tokens; its name is the `kid`."""

    algorithm: Algorithm
    secret: Secret | None = None  # HS*
    private_key: Secret | None = None  # RS*, PS*, ES*, EdDSA: a PEM


class Jwks(_Model):
    """An inline JSON Web Key Set (public keys only; `check` enforces it)."""

    keys: tuple[dict[str, Json], ...]


class IdentityProvider(_Model):
    """A trusted issuer of incoming tokens."""

    issuer: Str | None = None
    audience: Str | None = None
    # key sources: exactly one of these (a rule checks it)
    jwks_url: Str | None = None
    jwks: Jwks | None = None
    secret: Secret | None = None
    discovery: StrictBool = False
    allow_insecure_http: StrictBool = False
    algorithms: tuple[Algorithm, ...]
    leeway: StrictInt = 60
    #: Conditions on the incoming claims (`schema/conditions.py`); `check` reads them.
    require: dict[Str, Json] | None = None
    #: Incoming claims -> intermediate claims. Default {}: nothing is passed on.
    mapping: dict[Str, Json] = Field(default_factory=dict)
    # No `preset` field: `schema/presets.py` expands presets into these fields before
    # validation (and `tokensmith schema` adds the preset parameters to the JSON Schema).


class TokenProvider(_Model):
    """A service for which tokens are issued; its name is the service name."""

    signing_key: Str
    expires_in: Duration = "1h"
    audience: Str | None = None  # default: the service name
    issuer: Str | None = None  # default: the top-level issuer
    identity_providers: tuple[Str, ...] | None = None  # default: all
    claims: Literal["act", "root"] = "act"
    outlive_subject_token: StrictBool = False
    #: Conditions on the intermediate claims (`schema/conditions.py`); `check` reads them.
    require: dict[Str, Json] | None = None
    #: Intermediate claims -> issued claims. Default {}.
    mapping: dict[Str, Json] = Field(default_factory=dict)

    @property
    def expires_in_seconds(self) -> int | None:
        """`expires_in` in seconds, or None when it does not parse (a rule reports that)."""
        return parse_duration(self.expires_in)


class Expectation(_Model):
    """What a config test expects: an error, or the matched provider and claims."""

    identity_provider: Str | None = None
    claims: dict[Str, Json] | None = None
    claims_subset: dict[Str, Json] | None = None
    error: Str | None = None


class ConfigTest(_Model):
    """One offline exchange checked by `tokensmith test`."""

    name: Str
    service: Str
    token: dict[Str, Json]
    expect: Expectation
    now: StrictInt | None = None


class Config(_Model):
    """A whole config, as merged from its files."""

    version: Literal[1]
    issuer: NonEmpty
    cors: Cors | None = None
    signing_keys: dict[Str, SigningKey] = Field(default_factory=dict)
    identity_providers: dict[Str, IdentityProvider] = Field(default_factory=dict)
    token_providers: dict[Str, TokenProvider] = Field(default_factory=dict)
    tests: tuple[ConfigTest, ...] = ()
