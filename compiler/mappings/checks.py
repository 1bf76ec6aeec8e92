"""Compile-time checks of mappings, each with a stable code (see `docs/diagnostics.md`).

Errors: E300 invalid JSONPath, E301 a `.$` value that is not a path, E302 an empty output key,
E303 two keys equal once `.$` is stripped, E304 a token provider path that no allowed identity
provider produces, E305 a `$$` path outside the context, E306 a reserved claim at the root.
The `require` conditions are checked by `compiler/rules/require.py`, with this module's helpers
for paths (context names, W303, the flow of claims between providers).
Warnings: W300 a constant that looks like a path, W301 a token provider path that only some
allowed identity providers produce, W302 `sub` from a mutable claim, W303 a path over incoming
claims that reaches members it does not name (`..`, or `*`, a filter or a union of names followed
by a name).

Every finding is located at the exact key or value; a bad path points at the offending character.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from tokensmith.runtime.issuing import RESERVED_CLAIMS
from tokensmith.runtime.mapping_api import CONTEXT_NAMES
from tokensmith.schema.codes import (
    E300,
    E301,
    E302,
    E303,
    E304,
    E305,
    E306,
    W300,
    W301,
    W302,
    W303,
)
from tokensmith.schema.diagnostics import Diagnostic, did_you_mean
from tokensmith.schema.location import ConfigPath, Location, SourceMap
from tokensmith.schema.models import Config
from tokensmith.schema.validate import NOTHING_REFUSED, Refused

from .lower import PATH_SUFFIX, output_key
from .paths import JsonPath, PathSyntaxError, parse_path

#: Claims a user or an administrator can change: never a stable subject.
MUTABLE_CLAIMS = frozenset(
    {"email", "preferred_username", "upn", "unique_name", "name", "nickname", "username", "login"}
    | {"phone_number", "given_name", "family_name"}
)
_LOOKS_LIKE_PATH = re.compile(r"\$(?:\$|[.\[])")
_NAMES_SHOWN = 5


def check_config_mappings(
    config: Config, source_map: SourceMap, refused: Refused = NOTHING_REFUSED
) -> list[Diagnostic]:
    """Every mapping finding of a validated config: each mapping alone, then across providers.
    (The `require` conditions are the rules' business: `compiler/rules/require.py`.)

    An identity provider that the schema `refused` may produce any claim: a token provider path
    is then never reported as produced by no provider (E304), only the valid providers that lack
    it are named (W301).
    """
    found: list[Diagnostic] = []
    for name, idp in config.identity_providers.items():
        base = ("identity_providers", name)
        found += check_mapping(idp.mapping, (*base, "mapping"), source_map, incoming=True)
    produced = {
        name: {output_key(k) for k in idp.mapping if isinstance(k, str)}
        for name, idp in config.identity_providers.items()
    }
    for service, tp in config.token_providers.items():
        path = ("token_providers", service, "mapping")
        found += check_mapping(tp.mapping, path, source_map, claims_root=tp.claims == "root")
        unknown = refused.of("identity_providers")
        allowed, partial = allowed_providers(tp.identity_providers, produced, unknown)
        found += _check_produced(tp.mapping, path, source_map, allowed, produced, partial)
    return found


def check_mapping(
    mapping: object,
    path: ConfigPath,
    source_map: SourceMap,
    *,
    incoming: bool = False,
    claims_root: bool = False,
) -> list[Diagnostic]:
    """The findings of one mapping on its own, `path` being its place in the config.

    `incoming`: an identity provider mapping (it reads attacker-influenced claims).
    `claims_root`: a token provider mapping whose output goes to the root of the token.
    """
    found = list(_check_object(mapping, path, source_map, incoming))
    if claims_root and isinstance(mapping, Mapping):
        for key in mapping:
            if isinstance(key, str) and output_key(key) in RESERVED_CLAIMS:
                found.append(
                    Diagnostic(
                        E306,
                        f"`{output_key(key)}` is a reserved claim, set by tokensmith itself; "
                        "this token provider puts its mapping at the root (`claims: root`)",
                        source_map.key((*path, key)),
                        f"remove it, or rename it; {', '.join(sorted(RESERVED_CLAIMS))} are "
                        "reserved",
                    )
                )
    return found


def _check_object(
    mapping: object, path: ConfigPath, source_map: SourceMap, incoming: bool
) -> Iterator[Diagnostic]:
    if not isinstance(mapping, Mapping):
        return
    first_of: dict[str, str] = {}
    for key, value in mapping.items():
        at = (*path, key)
        name = output_key(key)
        if not name:
            yield Diagnostic(
                E302,
                f"the key {key!r} gives an empty output key",
                source_map.key(at),
                "name the output claim, e.g. `sub.$: $.sub`",
            )
        elif name in first_of:
            other = source_map.key((*path, first_of[name]))
            yield Diagnostic(
                E303,
                f"the keys {first_of[name]!r} ({other}) and {key!r} both give the output key "
                f"{name!r}",
                source_map.key(at),
                "keep one of them: a key ending in `.$` takes a path, any other a constant",
            )
        else:
            first_of[name] = key
        if key.endswith(PATH_SUFFIX):
            yield from _check_path_value(key, value, at, source_map, incoming)
        else:
            yield from _check_template(key, value, at, source_map, incoming)


def _check_template(
    key: str | None, value: object, at: ConfigPath, source_map: SourceMap, incoming: bool
) -> Iterator[Diagnostic]:
    if isinstance(value, Mapping):
        yield from _check_object(value, at, source_map, incoming)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _check_template(None, item, (*at, index), source_map, incoming)
    elif key is not None and isinstance(value, str) and _LOOKS_LIKE_PATH.match(value):
        yield Diagnostic(
            W300,
            f"the constant {value!r} looks like a path, but the key {key!r} does not end in "
            "`.$`, so it is copied as text",
            source_map.key(at),
            f"did you mean `{key}.$`?",
        )


def _check_path_value(
    key: str, value: object, at: ConfigPath, source_map: SourceMap, incoming: bool
) -> Iterator[Diagnostic]:
    if not isinstance(value, str) or not value.startswith("$"):
        yield _not_a_path(key, value, at, source_map)
        return
    try:
        parsed = parse_path(value)
    except PathSyntaxError as exc:
        yield Diagnostic(
            E300,
            f"invalid JSONPath {value!r}: {exc.reason}",
            value_column(source_map, at, exc.offset),
            "docs/mappings.md lists the supported path syntax",
        )
        return
    yield from context_name(parsed, source_map, at, in_key=False)
    if incoming:
        yield from steerable(parsed, source_map, at, in_key=False)
    if output_key(key) == "sub" and parsed.steps and parsed.steps[-1] in MUTABLE_CLAIMS:
        yield Diagnostic(
            W302,
            f"`sub` is taken from `{parsed.steps[-1]}`, which its owner or an administrator "
            "can change; another user may later get the same subject",
            source_map.value(at),
            "take `sub` from the provider's own immutable `sub` (e.g. `sub.$: $.sub`)",
        )


def _not_a_path(key: str, value: object, at: ConfigPath, source_map: SourceMap) -> Diagnostic:
    if isinstance(value, str):
        found, hint = repr(value), f"did you mean '$.{value}'?" if value else None
    else:
        kind = (
            "an object"
            if isinstance(value, Mapping)
            else "a list"
            if isinstance(value, list)
            else repr(value)
        )
        found, hint = kind, f"to keep a constant, drop `.$`: `{output_key(key)}: ...`"
    return Diagnostic(
        E301,
        f"the value of {key!r} must be a JSONPath starting with `$` (the input) or `$$` "
        f"(the context), found {found}",
        source_map.value(at),
        hint,
    )


def context_name(
    parsed: JsonPath, source_map: SourceMap, at: ConfigPath, in_key: bool
) -> list[Diagnostic]:
    if parsed.root != "context" or parsed.head is None or parsed.head in CONTEXT_NAMES:
        return []
    offset = max(parsed.text.find(parsed.head, 2), 0)
    return [
        Diagnostic(
            E305,
            f"the context has no {parsed.head!r}: `$$` paths read "
            + " and ".join(f"`$$.{n}`" for n in CONTEXT_NAMES),
            key_column(source_map, at, offset) if in_key else value_column(source_map, at, offset),
            did_you_mean(parsed.head, CONTEXT_NAMES),
        )
    ]


def steerable(
    parsed: JsonPath, source_map: SourceMap, at: ConfigPath, in_key: bool
) -> list[Diagnostic]:
    """W303: a path over incoming claims that reaches members its author did not name."""
    if parsed.root != "input":
        return []
    if parsed.recursive:
        offset = max(parsed.text.find(".."), 0)
        how = "searches the incoming claims at any depth (`..`)"
    elif parsed.widening is not None:
        offset = parsed.widening
        how = "selects members it does not name one by one before naming a claim in them"
    else:
        return []
    place = key_column(source_map, at, offset) if in_key else value_column(source_map, at, offset)
    return [
        Diagnostic(
            W303,
            f"the path {parsed.text!r} {how}: it also matches claims that users can often set "
            "themselves (e.g. Supabase's user_metadata)",
            place,
            "name each step from the root, e.g. `$.app_metadata.role`; for the elements of a "
            "list, a slice `[:]` never selects object members",
        )
    ]


def allowed_providers(
    listed: Sequence[str] | None, produced: Mapping[str, set[str]], unknown: frozenset[str]
) -> tuple[tuple[str, ...], bool]:
    """The allowed providers whose output is known, and whether an allowed one's is not."""
    names = listed if listed is not None else sorted(produced)
    partial = bool(unknown) and (listed is None or any(n in unknown for n in listed))
    return tuple(dict.fromkeys(n for n in names if n in produced)), partial


def _check_produced(
    mapping: object,
    path: ConfigPath,
    source_map: SourceMap,
    allowed: tuple[str, ...],
    produced: Mapping[str, set[str]],
    partial: bool = False,
) -> Iterator[Diagnostic]:
    """`partial`: another allowed provider was refused by the schema and may produce anything."""
    if not allowed:
        return  # no usable identity provider: the rules report that
    for at, parsed in _input_paths(mapping, path):
        head = parsed.head
        if head is None:
            continue
        missing = [name for name in allowed if head not in produced[name]]
        if len(missing) == len(allowed) and not partial:
            keys = sorted(set().union(*(produced[name] for name in allowed)))
            yield Diagnostic(
                E304,
                f"no allowed identity provider's mapping produces {head!r}, so "
                f"{parsed.text!r} never matches ({named(allowed)})",
                value_column(source_map, at, max(parsed.text.find(head), 0)),
                did_you_mean(head, keys) or "add it to the identity provider mappings",
            )
        elif missing:
            yield Diagnostic(
                W301,
                f"{head!r} is not produced by the mapping of {named(missing)}; with a token "
                f"from {'it' if len(missing) == 1 else 'them'}, {parsed.text!r} matches nothing",
                value_column(source_map, at, max(parsed.text.find(head), 0)),
                "produce it in every allowed identity provider, or narrow `identity_providers`",
            )


def _input_paths(mapping: object, path: ConfigPath) -> Iterator[tuple[ConfigPath, JsonPath]]:
    """Every valid `$...` path of a mapping, with its config path."""
    if isinstance(mapping, list):
        for index, item in enumerate(mapping):
            yield from _input_paths(item, (*path, index))
        return
    if not isinstance(mapping, Mapping):
        return
    for key, value in mapping.items():
        at = (*path, key)
        if not (isinstance(key, str) and key.endswith(PATH_SUFFIX)):
            yield from _input_paths(value, at)
            continue
        if isinstance(value, str) and value.startswith("$"):
            try:
                parsed = parse_path(value)
            except PathSyntaxError:
                continue
            if parsed.root == "input":
                yield at, parsed


def named(names: Sequence[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def value_column(source_map: SourceMap, at: ConfigPath, offset: int) -> Location:
    """The location of character `offset` of the string value at `at` (quotes accounted)."""
    return _shift(source_map, source_map.value(at), offset)


def key_column(source_map: SourceMap, at: ConfigPath, offset: int) -> Location:
    """The location of character `offset` of the key of `at` (quotes accounted)."""
    return _shift(source_map, source_map.key(at), offset)


def _shift(source_map: SourceMap, location: Location, offset: int) -> Location:
    line = source_map.source_line(location)
    if line is not None and 0 < location.column <= len(line) and line[location.column - 1] in "'\"":
        offset += 1
    return Location(location.file, location.line, location.column + offset)
