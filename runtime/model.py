"""The resolved config as the runtime reads it from a bundle's `config.json`.

This module is the contract between the compiler's bundle writer and the runtime. The writer
emits exactly these fields (JSON, sorted keys); `parse_config` reads them back into frozen
dataclasses and refuses anything else with a `BundleError`. Secrets stay references here; they
are resolved at start-up by `runtime.secrets`.

config.json, format `tokensmith-config/1`:

    {
      "format": "tokensmith-config/1",
      "issuer": "https://tokens.example.com/",
      "cors": {"allow_origins": ["https://app.example.com"], "allow_headers"?: ["X-Trace"]} | null,
      "signing_keys": {
        "<kid>": {"algorithm": "HS256", "secret": SecretRef | null, "private_key": SecretRef | null}
      },
      "identity_providers": {
        "<name>": {
          "issuer": str | null, "audience": str | null,
          "algorithms": ["RS256"], "leeway": 60,
          "jwks_url": str | null, "discovery": false, "allow_insecure_http": false,
          "jwks": {"keys": [...public JWKs...]} | null,
          "secret": SecretRef | null,
          "has_require": bool,
          "require": {path: value} | null, "mapping": {...}   # for listings and diffs only
        }
      },
      "token_providers": {
        "<service>": {
          "signing_key": "<kid>", "expires_in": 3600, "audience": str, "issuer": str,
          "identity_providers": ["<name>", ...] | null, "claims": "act" | "root",
          "outlive_subject_token": false, "mapping": {...},  # for listings and diffs only
          "has_require": true, "require": {...}   # both only when the service has conditions
        }
      }
    }

SecretRef: exactly one of {"env": NAME} / {"file": PATH} / {"encrypted": TEXT}, plus
"encoding": "utf8" | "base64" | "base64url". Exactly one key source is set per identity provider
(`jwks_url`, or `discovery` true with `jwks_url` null, or `jwks`, or `secret`). Token provider
`audience` and `issuer` are already defaulted by the compiler (service name, top-level issuer).
A token provider's `has_require` and `require` are written only when it has `require` conditions,
so that a config without them compiles to the same bytes as before token providers had any.
The loader also refuses a negative `leeway`, an `expires_in` under 1, two key sources on one
identity provider and a token provider naming an identity provider that is not there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import BundleError

CONFIG_FORMAT = "tokensmith-config/1"
ENCODINGS = frozenset({"utf8", "base64", "base64url"})


@dataclass(frozen=True, repr=False)
class SecretRef:
    kind: str  # "env" | "file" | "encrypted"
    value: str
    encoding: str = "utf8"

    def describe(self) -> str:
        """A safe description for error messages: never the secret, never encrypted text."""
        if self.kind == "encrypted":
            return "an {encrypted} secret"
        return f"{{{self.kind}: {self.value}}}"

    def __repr__(self) -> str:
        # A config, spec or bundle printed in a crash report must not show sealed text either.
        return f"SecretRef({self.describe()}, encoding={self.encoding!r})"


@dataclass(frozen=True)
class SigningKeySpec:
    kid: str
    algorithm: str
    secret: SecretRef | None
    private_key: SecretRef | None


@dataclass(frozen=True)
class IdentityProviderSpec:
    name: str
    issuer: str | None
    audience: str | None
    algorithms: tuple[str, ...]
    leeway: int
    jwks_url: str | None
    discovery: bool
    allow_insecure_http: bool
    jwks: Mapping[str, Any] | None
    secret: SecretRef | None
    has_require: bool
    #: The source `mapping` and `require` objects, for read-only listings; never executed.
    mapping: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    require: Mapping[str, Any] | None = None

    @property
    def uses_remote_keys(self) -> bool:
        return self.jwks_url is not None or self.discovery


@dataclass(frozen=True)
class TokenProviderSpec:
    service: str
    signing_key: str
    expires_in: int
    audience: str
    issuer: str
    identity_providers: tuple[str, ...] | None
    claims: str  # "act" | "root"
    outlive_subject_token: bool
    #: The source `mapping` object, for read-only listings; never executed.
    mapping: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: Whether the service has `require` conditions (a generated function decides them).
    has_require: bool = False
    #: The source `require` object, for read-only listings and diffs; never executed.
    require: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RuntimeConfig:
    issuer: str
    cors_allow_origins: tuple[str, ...]
    signing_keys: Mapping[str, SigningKeySpec]
    identity_providers: Mapping[str, IdentityProviderSpec]
    token_providers: Mapping[str, TokenProviderSpec]
    #: `cors.allow_headers`: request headers allowed beside `CORS_DEFAULT_HEADERS`.
    cors_allow_headers: tuple[str, ...] = ()


def parse_config(data: Any) -> RuntimeConfig:
    """Read a decoded config.json; a `BundleError` names the first field that does not fit."""
    root = _obj(data, "config.json")
    if root.get("format") != CONFIG_FORMAT:
        raise BundleError(f"config.json: format is not {CONFIG_FORMAT}")
    cors = root.get("cors")
    origins: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    if cors is not None:
        origins = _str_tuple(_obj(cors, "cors").get("allow_origins"), "cors.allow_origins")
        headers = _header_names(_obj(cors, "cors").get("allow_headers", []))
    signing = {
        kid: _signing_key(kid, _obj(v, f"signing_keys.{kid}"))
        for kid, v in _obj(root.get("signing_keys"), "signing_keys").items()
    }
    idps = {
        name: _identity_provider(name, _obj(v, f"identity_providers.{name}"))
        for name, v in _obj(root.get("identity_providers"), "identity_providers").items()
    }
    tps = {
        svc: _token_provider(svc, _obj(v, f"token_providers.{svc}"))
        for svc, v in _obj(root.get("token_providers"), "token_providers").items()
    }
    _check_references(idps, tps)
    return RuntimeConfig(
        issuer=_str(root.get("issuer"), "issuer"),
        cors_allow_origins=origins,
        signing_keys=MappingProxyType(signing),
        identity_providers=MappingProxyType(idps),
        token_providers=MappingProxyType(tps),
        cors_allow_headers=headers,
    )


#: The request headers every CORS preflight allows: what browser clients really send (a
#: correlation id, and what State Backed's client adds when given an org or an `actAs`). Here,
#: in the bundle's contract, so that `check` and the runtime read the same list.
CORS_DEFAULT_HEADERS = ("Content-Type", "X-Request-Id", "X-StateBacked-Org-Id", "X-StateBacked-Act")

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_names(v: Any) -> tuple[str, ...]:
    """`cors.allow_headers`: HTTP field names only, since they go into a response header."""
    names = _str_tuple(v, "cors.allow_headers")
    if not all(_HEADER_NAME.fullmatch(name) and name != "*" for name in names):
        raise BundleError("config.json: cors.allow_headers must be header names")
    return names


def _signing_key(kid: str, v: Mapping[str, Any]) -> SigningKeySpec:
    where = f"signing_keys.{kid}"
    return SigningKeySpec(
        kid=kid,
        algorithm=_str(v.get("algorithm"), f"{where}.algorithm"),
        secret=_secret(v.get("secret"), f"{where}.secret"),
        private_key=_secret(v.get("private_key"), f"{where}.private_key"),
    )


def _identity_provider(name: str, v: Mapping[str, Any]) -> IdentityProviderSpec:
    where = f"identity_providers.{name}"
    jwks = v.get("jwks")
    return IdentityProviderSpec(
        name=name,
        issuer=_opt_str(v.get("issuer"), f"{where}.issuer"),
        audience=_opt_str(v.get("audience"), f"{where}.audience"),
        algorithms=_str_tuple(v.get("algorithms"), f"{where}.algorithms"),
        leeway=_int(v.get("leeway"), f"{where}.leeway", minimum=0),
        jwks_url=_opt_str(v.get("jwks_url"), f"{where}.jwks_url"),
        discovery=_bool(v.get("discovery", False), f"{where}.discovery"),
        allow_insecure_http=_bool(v.get("allow_insecure_http", False), f"{where}.allow_insecure_http"),
        jwks=None if jwks is None else MappingProxyType(dict(_obj(jwks, f"{where}.jwks"))),
        secret=_secret(v.get("secret"), f"{where}.secret"),
        has_require=_bool(v.get("has_require", False), f"{where}.has_require"),
        mapping=_json_obj(v.get("mapping", {}), f"{where}.mapping"),
        require=None if v.get("require") is None else _json_obj(v["require"], f"{where}.require"),
    )


def _check_references(
    idps: Mapping[str, IdentityProviderSpec], tps: Mapping[str, TokenProviderSpec]
) -> None:
    """What the compiler guarantees across items: one key source each, known provider names."""
    for name, idp in idps.items():
        sources = (idp.jwks_url is not None, idp.discovery, idp.jwks is not None, idp.secret)
        if sum(1 for source in sources if source) > 1:
            raise BundleError(
                f"config.json: identity_providers.{name} has more than one key source"
            )
    for service, tp in tps.items():
        unknown = sorted(set(tp.identity_providers or ()) - set(idps))
        if unknown:
            raise BundleError(
                f"config.json: token_providers.{service}.identity_providers names an unknown "
                f"identity provider {unknown[0]}"
            )


def _token_provider(service: str, v: Mapping[str, Any]) -> TokenProviderSpec:
    where = f"token_providers.{service}"
    idps = v.get("identity_providers")
    claims = _str(v.get("claims"), f"{where}.claims")
    if claims not in ("act", "root"):
        raise BundleError(f"config.json: {where}.claims must be act or root")
    return TokenProviderSpec(
        service=service,
        signing_key=_str(v.get("signing_key"), f"{where}.signing_key"),
        expires_in=_int(v.get("expires_in"), f"{where}.expires_in", minimum=1),
        audience=_str(v.get("audience"), f"{where}.audience"),
        issuer=_str(v.get("issuer"), f"{where}.issuer"),
        identity_providers=None if idps is None else _str_tuple(idps, f"{where}.identity_providers"),
        claims=claims,
        outlive_subject_token=_bool(v.get("outlive_subject_token", False), f"{where}.outlive_subject_token"),
        mapping=_json_obj(v.get("mapping", {}), f"{where}.mapping"),
        has_require=_bool(v.get("has_require", False), f"{where}.has_require"),
        require=None if v.get("require") is None else _json_obj(v["require"], f"{where}.require"),
    )


def _secret(v: Any, where: str) -> SecretRef | None:
    if v is None:
        return None
    obj = _obj(v, where)
    kinds = [k for k in ("env", "file", "encrypted") if k in obj]
    if len(kinds) != 1:
        raise BundleError(f"config.json: {where} must have exactly one of env, file, encrypted")
    encoding = obj.get("encoding", "utf8")
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise BundleError(f"config.json: {where}.encoding is not one of utf8, base64, base64url")
    return SecretRef(kinds[0], _str(obj[kinds[0]], f"{where}.{kinds[0]}"), encoding)


def _obj(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise BundleError(f"config.json: {where} must be an object")
    return v


def _json_obj(v: Any, where: str) -> Mapping[str, Any]:
    return MappingProxyType(dict(_obj(v, where)))


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise BundleError(f"config.json: {where} must be a string")
    return v


def _opt_str(v: Any, where: str) -> str | None:
    return None if v is None else _str(v, where)


def _int(v: Any, where: str, minimum: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise BundleError(f"config.json: {where} must be an integer")
    if v < minimum:
        raise BundleError(f"config.json: {where} must be at least {minimum}")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise BundleError(f"config.json: {where} must be true or false")
    return v


def _str_tuple(v: Any, where: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise BundleError(f"config.json: {where} must be a list of strings")
    return tuple(v)
