"""Turn State Backed's `GET /idps` and `GET /token-providers` answers into a tokensmith config.

State Backed keeps identity providers keyed by (`iss`, `aud`) and token providers by `service`,
each configured by an imperative call; this writes the same trust as one commented YAML file.
What State Backed holds in its vault never reaches us: an identity provider without `jwksUrl`
had a `key` (base64url, so `encoding: base64url`), and every `sbk_...` signing key has a
`sbsec_...` secret (used as UTF-8 bytes, tokensmith's default). Both become `{env: NAME}`
references and a comment says what to set.

Same claims as before: mappings are copied unchanged and the token provider keeps `claims: act`
(State Backed puts the mapping output under `act`). What State Backed does not document (token
lifetime, issuer, leeway) takes tokensmith's defaults, stated in the file's header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tokensmith.runtime import strict_json
from tokensmith.schema.errors import BuildError

HMAC = frozenset({"HS256", "HS384", "HS512"})
DEFAULT_ISSUER = "https://tokens.example.com/"


class ImportInputError(BuildError):
    """The State Backed JSON does not have the documented shape; the message says where."""


@dataclass(frozen=True)
class EnvVar:
    """An environment variable the imported config reads, and what to put in it."""

    name: str
    purpose: str


@dataclass
class Imported:
    """The config YAML text, the variables it needs, and notes for the person importing."""

    text: str
    env: list[EnvVar] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_listing(text: str, key: str, source: str) -> list[dict[str, Any]]:
    """The items of one listing: `{"<key>": [...]}` as the API answers, or a bare list
    (pages concatenated by hand). Parsed strictly: a duplicate member would silently drop
    one of two values, and NaN or a number out of range cannot be written to YAML as JSON."""
    try:
        data = strict_json.loads(text, max_depth=64)
    except strict_json.StrictJSONError as exc:
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            raise ImportInputError(f"{source}: not JSON ({cause.msg} at line {cause.lineno})"
                                   ) from None
        raise ImportInputError(f"{source}: not usable JSON: {exc}") from None
    items = data.get(key) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ImportInputError(f"{source}: expected {{\"{key}\": [...]}} as GET /{_route(key)} "
                               "answers")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ImportInputError(f"{source}: {key}[{index}] is not an object")
    return items


def _route(key: str) -> str:
    return "idps" if key == "idps" else "token-providers"


def import_statebacked(
    idps: list[dict[str, Any]], token_providers: list[dict[str, Any]], issuer: str = DEFAULT_ISSUER
) -> Imported:
    """The config for these State Backed identity providers and token providers."""
    result = Imported(text="")
    idp_fields = _identity_providers(idps, result)
    keys, tp_fields = _token_providers(token_providers, result)
    lines = _header(result)
    lines += ["version: 1",
              "# the `iss` of issued tokens: the URL where your tokensmith runtime is served",
              f"issuer: {_scalar(issuer)}", ""]
    for section, body in (("signing_keys", keys), ("identity_providers", idp_fields),
                          ("token_providers", tp_fields)):
        lines += [*_block({section: body}, 0), ""]
    result.text = "\n".join(lines).rstrip("\n") + "\n"
    return result


def _header(result: Imported) -> list[str]:
    lines = [
        "# Imported from State Backed by `tokensmith import statebacked`.",
        "# Issued tokens carry the token provider mapping under `act`, as State Backed's do;",
        "# lifetime (1h) and leeway (60s) are tokensmith's defaults: State Backed does not",
        "# document its own. Check it with `tokensmith check`, then add `tests:`.",
    ]
    if result.env:
        lines.append("# Set before `tokensmith serve`:")
        lines += [f"#   {_comment(var.name)}: {_comment(var.purpose)}" for var in result.env]
    return [*lines, ""]


def _identity_providers(idps: list[dict[str, Any]], result: Imported) -> dict[str, Any]:
    identifiers = []
    for index, idp in enumerate(idps):
        iss, aud = _opt_str(idp, "iss", index), _opt_str(idp, "aud", index)
        if iss is None and aud is None:
            raise ImportInputError(f"idps[{index}]: has neither iss nor aud")
        identifiers.append(iss or aud or "")
    names = _names(identifiers)
    return {
        name: _identity_provider(name, idp, index, result)
        for index, (name, idp) in enumerate(zip(names, idps, strict=True))
    }


def _identity_provider(name: str, idp: dict[str, Any], index: int, result: Imported) -> Any:
    algs = idp.get("algs")
    if not isinstance(algs, list) or not algs or not all(isinstance(a, str) for a in algs):
        raise ImportInputError(f"idps[{index}]: algs must be a non-empty list of names")
    out: dict[str, Any] = {}
    for ours, theirs in (("issuer", "iss"), ("audience", "aud")):
        if idp.get(theirs) is not None:
            out[ours] = idp[theirs]
    jwks_url = _opt_str(idp, "jwksUrl", index)
    if jwks_url is not None:
        out["jwks_url"] = jwks_url
    elif set(algs) <= HMAC:
        var = _env_name(f"{name}_key", {v.name for v in result.env})
        result.env.append(EnvVar(var, f"the key of identity provider {name} as given to State "
                                      "Backed (base64url)"))
        out["secret"] = Comment({"env": var, "encoding": "base64url"},
                                "the key State Backed verified with")
    else:
        result.warnings.append(
            f"identity provider {name}: State Backed held its public key, which GET /idps does "
            "not return; add it as `jwks: {keys: [...]}` (a JWK) before `tokensmith check`"
        )
        out["jwks"] = Comment({"keys": []}, "add the provider's public key as a JWK here")
    if name.endswith(".anonymous.auth.statebacked.dev"):
        result.warnings.append(
            f"identity provider {name} is State Backed's built-in anonymous provider: browsers "
            "sign its tokens with the org id, which is public and shorter than the 32 bytes "
            "tokensmith requires of an HMAC key; give anonymous sessions their own scheme"
        )
    out["algorithms"] = list(algs)
    out["mapping"] = _mapping(idp, f"idps[{index}]")
    return out


def _token_providers(
    providers: list[dict[str, Any]], result: Imported
) -> tuple[dict[str, Any], dict[str, Any]]:
    keys: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for index, tp in enumerate(providers):
        service = _opt_str(tp, "service", index, "tokenProviders")
        key_id = _opt_str(tp, "keyId", index, "tokenProviders")
        if service is None or key_id is None:
            raise ImportInputError(f"tokenProviders[{index}]: service and keyId are required")
        if service in fields:
            raise ImportInputError(f"tokenProviders[{index}]: service {service!r} is listed twice")
        if key_id not in keys:
            var = _env_name(f"tokensmith_{key_id}", {v.name for v in result.env})
            result.env.append(EnvVar(var, f"the secret (sbsec_...) of State Backed key {key_id}"))
            keys[key_id] = {
                "algorithm": "HS256",
                "secret": Comment({"env": var}, "the sbsec_... secret of this key"),
            }
        fields[service] = {
            "signing_key": key_id,
            "claims": "act",
            "mapping": _mapping(tp, f"tokenProviders[{index}]"),
        }
    return keys, fields


def _mapping(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    mapping = item.get("mapping", {})
    if not isinstance(mapping, dict):
        raise ImportInputError(f"{where}: mapping must be an object")
    return mapping


def _opt_str(item: Mapping[str, Any], key: str, index: int, list_name: str = "idps") -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ImportInputError(f"{list_name}[{index}]: {key} must be a non-empty string")
    return value


def _names(identifiers: list[str]) -> list[str]:
    """Provider names from the issuer's (or audience's) host; a host that several providers
    share (two Cognito pools) gets the last path segment too; numbers make the rest unique."""
    # the host as written (`hostname` would lower-case it)
    hosts = [urlsplit(i).netloc.rsplit("@", 1)[-1].split(":")[0] or i for i in identifiers]
    names: list[str] = []
    for identifier, host in zip(identifiers, hosts, strict=True):
        segments = [s for s in urlsplit(identifier).path.split("/") if s]
        shared = hosts.count(host) > 1 and segments
        base = _safe(f"{host}-{segments[-1]}" if shared else host)
        name, number = base, 2
        while name in names:
            name, number = f"{base}-{number}", number + 1
        names.append(name)
    return names


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:100] or "idp"


def _env_name(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    # base64url key ids differ in case only; upper-casing could merge two of them
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


# --- a small YAML writer: block mappings, flow for everything else, comments kept ---------------


@dataclass(frozen=True)
class Comment:
    """A value written in flow style with a trailing `# text` comment."""

    value: Any
    text: str


_PLAIN = re.compile(r"[A-Za-z_$/.][A-Za-z0-9_$./:@|+~=-]*")
_KEYWORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


def _block(mapping: Mapping[str, Any], indent: int) -> list[str]:
    """`mapping` in block style: nested non-empty objects indented, other values in flow."""
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, Comment):
            lines.append(f"{pad}{_scalar(key)}: {_flow(value.value)}  # {_comment(value.text)}")
        elif isinstance(value, dict) and value:
            lines.append(f"{pad}{_scalar(key)}:")
            lines += _block(value, indent + 2)
        else:
            lines.append(f"{pad}{_scalar(key)}: {_flow(value)}")
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        items = ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    """A YAML scalar that reads back as the same JSON value: plain when unambiguous, else a
    JSON string (JSON's double-quoted form is valid YAML)."""
    if isinstance(value, str):
        plain = (
            _PLAIN.fullmatch(value) is not None
            and value.lower() not in _KEYWORDS
            and not value.endswith(":")
            and not value.startswith(".")
        )
        return value if plain else _YAML_UNSAFE.sub(_escape, json.dumps(value, ensure_ascii=False))
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


# Characters JSON leaves raw that YAML reads differently: line breaks YAML knows and JSON does
# not (NEL, LS, PS: folded to a space), and ones YAML does not allow in a file at all (C1
# controls, DEL, a BOM inside the text, the noncharacters). Both read `\uXXXX` the same way.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _comment(text: str) -> str:
    """`text` for a one-line `#` comment: values from the export (a `keyId`) may hold line
    breaks, which would end the comment and write YAML; anything not printable is escaped."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
