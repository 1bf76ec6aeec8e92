"""Loaded data -> `Config`, with every pydantic error turned into one located diagnostic.

Each message names the field path, what was found (its type; a value only where it cannot be a
secret, such as an unknown algorithm name) and what was expected, with a did-you-mean for
misspelt field names and enum values.

The schema judges a config part by part (`validate_parts`): the top-level fields, then each
signing key, identity provider and token provider by name, and each test. A part that does not
fit is reported and left out; what fits is kept as `Validation.usable`, on which `check` still
runs the rules, and `Validation.refused` names what was left out so that the rules say nothing
about it: a token provider naming a refused identity provider does not get "unknown identity
provider" on top of that provider's own finding. Nothing is compiled from a partial config:
`Validation.config` is the whole config, or None.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .codes import E200, E201, E202, E203, E204, E205, E206, E207, E209
from .diagnostics import SECRET_FIELDS, Diagnostic, describe, did_you_mean, looks_secret
from .loader import LoadedSource
from .location import ConfigPath, Location, SourceMap
from .models import Config, ConfigTest, IdentityProvider, SigningKey, TokenProvider

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


#: Sections judged entry by entry, with the model of one entry.
ENTRY_SECTIONS: Mapping[str, type[BaseModel]] = MappingProxyType({
    "signing_keys": SigningKey,
    "identity_providers": IdentityProvider,
    "token_providers": TokenProvider,
})
_TESTS = "tests"


@dataclass(frozen=True)
class Refused:
    """What the schema refused, and the rules therefore leave out.

    `names`: per section of `ENTRY_SECTIONS`, the entries that did not fit (or whose preset did
    not expand), and those written under a misspelt section name (`identity_provider:`).
    `fields`: top-level fields that did not fit as a whole (`version`, `issuer`, `cors`, or a
    section that is not a mapping, of which any name may then be meant).
    A reference to a refused entry is not "unknown": the entry is there and has its own finding.
    """

    names: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    fields: frozenset[str] = frozenset()

    def covers(self, section: str, name: str) -> bool:
        """True when `name` of `section` may be defined but was left out: say nothing about it."""
        return section in self.fields or name in self.names.get(section, frozenset())

    def of(self, section: str) -> frozenset[str]:
        """The refused names of `section`."""
        return self.names.get(section, frozenset())


#: Nothing refused: a config that fits the schema.
NOTHING_REFUSED = Refused()


@dataclass(frozen=True)
class Validation:
    """The schema's verdict, part by part.

    `config`: the whole config when every part fits, else None. `usable`: the parts that fit (a
    refused `issuer` reads as ""; rules check `refused.fields` before reading a top-level field).
    `source_map` locates `usable`: the input's, except that refused tests are left out of it and
    the later tests renumbered, as in `usable.tests`.
    """

    config: Config | None
    usable: Config
    source_map: SourceMap
    refused: Refused
    diagnostics: tuple[Diagnostic, ...]


def validate(loaded: LoadedSource) -> tuple[Config | None, list[Diagnostic]]:
    """The `Config` of `loaded` and the schema findings; None when loading or validation failed.

    Load errors stop here (the data may be partial), so schema findings never pile up on top
    of a YAML syntax error.
    """
    if not loaded.ok:
        return None, []
    result = validate_parts(loaded.data, loaded.source_map)
    return result.config, list(result.diagnostics)


def validate_parts(
    data: Mapping[str, Any], source_map: SourceMap, refused_providers: Collection[str] = ()
) -> Validation:
    """Judge `data` part by part (see the module docstring).

    `refused_providers`: identity providers already refused (their preset did not expand),
    which are neither validated nor kept.
    """
    work = _Parts(source_map, refused_providers)
    top = {k: v for k, v in data.items() if not _entry_wise(k, v)}
    base = work.top_level(top)
    sections = {
        name: work.entries(name, model, data.get(name)) for name, model in ENTRY_SECTIONS.items()
    }
    tests = work.tests(data.get(_TESTS))
    usable = base.model_copy(update={**sections, "tests": tuple(tests)})
    refused = Refused(
        MappingProxyType({k: frozenset(v) for k, v in work.names.items() if v}),
        frozenset(work.fields),
    )
    whole = not work.found and not refused_providers
    rules_map = _without_items(source_map, _TESTS, work.refused_tests)
    return Validation(usable if whole else None, usable, rules_map, refused, tuple(work.found))


def _entry_wise(key: str, value: Any) -> bool:
    return (key in ENTRY_SECTIONS and isinstance(value, dict)) or (
        key == _TESTS and isinstance(value, list)
    )


class _Parts:
    """The working state of `validate_parts`: findings and what was refused so far."""

    def __init__(self, source_map: SourceMap, refused_providers: Collection[str]) -> None:
        self.source_map = source_map
        self.found: list[Diagnostic] = []
        self.names: dict[str, set[str]] = {section: set() for section in ENTRY_SECTIONS}
        self.names["identity_providers"].update(refused_providers)
        self.fields: set[str] = set()
        self.refused_tests: list[int] = []

    def top_level(self, top: dict[str, Any]) -> Config:
        """The top-level fields (sections that are mappings and a list of tests aside)."""
        try:
            return Config.model_validate(top)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        self.found.extend(diagnose(err, self.source_map) for err in errors)
        failed = {str(err["loc"][0]) for err in errors}
        for name in failed:
            if name in Config.model_fields:
                self.fields.add(name)
            else:
                self._misspelt_section(name, top[name])
        kept = {k: v for k, v in top.items() if k not in failed}
        # Every kept field fits on its own. The required `version` and `issuer` stand in for
        # themselves when refused: the only version, and no issuer ("", which no rule reads
        # without looking at `Refused.fields` first).
        base = Config.model_validate({"version": 1, "issuer": "-", **kept})
        return base if "issuer" in kept else base.model_copy(update={"issuer": ""})

    def _misspelt_section(self, name: str, value: Any) -> None:
        """`identity_provider:` for `identity_providers:`: its entries are refused, so that the
        references to them are not reported as unknown."""
        close = difflib.get_close_matches(name, list(ENTRY_SECTIONS), n=1, cutoff=0.6)
        if not close:
            return
        if isinstance(value, dict):
            self.names[close[0]].update(str(key) for key in value)
        else:
            self.fields.add(close[0])

    def entries(self, section: str, model: type[BaseModel], raw: Any) -> dict[str, Any]:
        """The entries of `section` that fit its model."""
        kept: dict[str, Any] = {}
        if not isinstance(raw, dict):
            return kept  # absent, or not a mapping: `top_level` reported and refused it
        for name, entry in raw.items():
            if name in self.names[section]:
                continue  # refused before the schema (its preset did not expand)
            parsed = self._one(model, entry, (section, name))
            if parsed is None:
                self.names[section].add(name)
            else:
                kept[name] = parsed
        return kept

    def tests(self, raw: Any) -> list[ConfigTest]:
        kept: list[ConfigTest] = []
        if not isinstance(raw, list):
            return kept
        for index, item in enumerate(raw):
            parsed = self._one(ConfigTest, item, (_TESTS, index))
            if isinstance(parsed, ConfigTest):
                kept.append(parsed)
            else:
                self.refused_tests.append(index)
        return kept

    def _one(self, model: type[BaseModel], value: Any, at: ConfigPath) -> BaseModel | None:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                err["loc"] = (*at, *err["loc"])
                self.found.append(diagnose(err, self.source_map))
            return None


def _without_items(source_map: SourceMap, section: str, left_out: Sequence[int]) -> SourceMap:
    """`source_map` as if the items `left_out` (ascending) of the list `section` were not there:
    their paths dropped, the later items' indexes lowered."""
    if not left_out:
        return source_map
    skip = set(left_out)

    def moved(table: Mapping[ConfigPath, Location]) -> Mapping[ConfigPath, Location]:
        out: dict[ConfigPath, Location] = {}
        for path, location in table.items():
            if len(path) > 1 and path[0] == section and isinstance(path[1], int):
                if path[1] in skip:
                    continue
                path = (section, path[1] - bisect.bisect_left(left_out, path[1]), *path[2:])
            out[path] = location
        return MappingProxyType(out)

    return SourceMap(moved(source_map.keys), moved(source_map.values), source_map.texts)


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
