"""Loaded data -> `Config`, with every pydantic error turned into one located diagnostic.

Each message names the field path, what was found (its type; a value only where it cannot be a
secret, such as an unknown algorithm name) and what was expected, with a did-you-mean for
misspelt field names and enum values.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .codes import E200, E201, E202, E203, E204, E205, E206, E207, E209
from .diagnostics import SECRET_FIELDS, Diagnostic, did_you_mean, looks_secret
from .loader import LoadedSource
from .location import ConfigPath, Location, SourceMap
from .models import Config

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}

_CUSTOM_CODES = {"secret_literal": E204, "algorithm_none": E205, "secret_ref_shape": E206}

_SECRET_SECTIONS = frozenset({"signing_keys", "identity_providers"})

_SECRET_HINT = "for example `secret: {env: MY_SECRET}`; the value written here is not shown"


def validate(loaded: LoadedSource) -> tuple[Config | None, list[Diagnostic]]:
    """The `Config` of `loaded` and the schema findings; None when loading or validation failed.

    Load errors stop here (the data may be partial), so schema findings never pile up on top
    of a YAML syntax error.
    """
    if not loaded.ok:
        return None, []
    try:
        return Config.model_validate(loaded.data), []
    except ValidationError as exc:
        found = [diagnose(err, loaded.source_map) for err in exc.errors(include_url=False)]
        return None, found


def diagnose(err: ErrorDetails, source_map: SourceMap) -> Diagnostic:
    """One pydantic error -> one located diagnostic; its source line is cut where a value that
    may be a secret starts."""
    found = _diagnose(err, source_map)
    secret = _secret_value(tuple(err["loc"]), err["type"], source_map)
    if secret is None:
        return found
    # a secret that starts on an earlier line may go on here: cut at the finding itself
    at = secret if secret.line == found.location.line else found.location
    return dataclasses.replace(found, secret_at=at)


def _secret_value(loc: ConfigPath, kind: str, source_map: SourceMap) -> Location | None:
    """Where a value that may be a secret starts: that of a secret field the error is in, or
    that of an unknown field whose name looks like a secret's (a misspelt `secret: <literal>`)."""
    if _in_secret(loc):
        return source_map.value(loc[:3])
    if kind == "extra_forbidden" and loc and looks_secret(str(loc[-1])):
        return source_map.value(loc)
    return None


def _diagnose(err: ErrorDetails, source_map: SourceMap) -> Diagnostic:
    loc: ConfigPath = tuple(err["loc"])
    kind = err["type"]
    where = field_path(loc)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        fields = _fields_at(loc[:-1])
        hint = did_you_mean(name, fields) or ("expected one of: " + ", ".join(fields))
        # inside a secret reference the "field" may be the secret itself: never repeat it
        shown = "an unknown field" if _in_secret(loc) else f"unknown field '{name}'"
        message = f"{_owner(loc[:-1])}: {shown}"
        return Diagnostic(E200, message, source_map.key(loc), hint)
    if kind == "missing":
        message = f"{_owner(loc[:-1])}: missing required field '{loc[-1]}'"
        owner = loc[:-1]
        # a list item has no key: point at the item itself
        at_owner = source_map.value(owner) if owner and isinstance(owner[-1], int) else None
        return Diagnostic(E201, message, at_owner or source_map.key(owner))
    at = source_map.value(loc)
    if kind in _CUSTOM_CODES:
        secret_hint = _SECRET_HINT if kind == "secret_literal" else None
        return Diagnostic(_CUSTOM_CODES[kind], f"{where}: {err['msg']}", at, secret_hint)
    if kind == "duration_type":
        return Diagnostic(E202, f"{where}: {err['msg']}; found {describe(err['input'])}", at)
    if kind in _EXPECTED:
        message = f"{where}: expected {_EXPECTED[kind]}, found {describe(err['input'])}"
        return Diagnostic(E202, message, at)
    if kind == "string_too_short":
        return Diagnostic(E207, f"{where}: must not be empty", at)
    if kind == "literal_error":
        return _literal(err, where, at, _in_secret(loc))
    return Diagnostic(E209, f"{where}: {err['msg']}", at)


def _literal(err: ErrorDetails, where: str, at: Location, in_secret: bool) -> Diagnostic:
    expected = str((err.get("ctx") or {}).get("expected", "")).replace("'", "")
    value = err["input"]
    hint: str | None = None
    if in_secret:
        shown = describe(value)
    elif isinstance(value, str):
        shown = repr(value if len(value) <= 40 else value[:37] + "...")
        options = [o.strip() for o in expected.replace(" or ", ", ").split(",")]
        exact = [o for o in options if o.lower() == value.strip().lower()]
        hint = f"did you mean '{exact[0]}'?" if exact else did_you_mean(value, options)
    elif isinstance(value, bool | int | float) or value is None:
        shown = json.dumps(value)  # a number or boolean is never a secret
    else:
        shown = describe(value)
    return Diagnostic(E203, f"{where}: expected {expected}, found {shown}", at, hint)


def describe(value: Any) -> str:
    """The kind of a loaded value, never its content (it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def field_path(loc: Sequence[str | int]) -> str:
    """`identity_providers.auth0.algorithms[0]`: a config path as a user reads it."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the config"


def _in_secret(loc: ConfigPath) -> bool:
    """True inside `<section>.<name>.secret` or `.private_key`."""
    return len(loc) >= 3 and loc[0] in _SECRET_SECTIONS and loc[2] in SECRET_FIELDS


def _owner(loc: ConfigPath) -> str:
    return field_path(loc) if loc else "the top level"


def _fields_at(loc: ConfigPath) -> list[str]:
    """The field names of the model found at `loc`, for did-you-mean."""
    kind: Any = Config
    for part in loc:
        kind = _unwrap(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return []
            kind = field.annotation
        else:
            args = typing.get_args(kind)
            kind = args[-1] if args else Any  # dict[str, X] or tuple[X, ...]
            if args and args[-1] is Ellipsis:
                kind = args[0]
    kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return sorted(kind.model_fields)
    return []


def _unwrap(kind: Any) -> Any:
    """Strip Annotated and Optional: `Annotated[X | None, ...]` -> X."""
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(kind) if a is not type(None)]
            if len(members) != 1:
                return kind
            kind = members[0]
        else:
            return kind
