"""Load a config: one YAML file, or a directory of `*.yaml`/`*.yml` files merged into one.

Merging: the named sections (`signing_keys`, `identity_providers`, `token_providers`) are merged
by name, and a name defined in two files is an error that names both places; `tests` lists are
concatenated in file order; `version` may be stated in every file, so that each file reads on
its own, and files that state different versions are an error naming both; every other top-level
field (`issuer`, `cors`) may be set in one file only. Files are read in name order, so the result
does not depend on the disk.

Such merge conflicts leave the data complete (the first definition is kept), so `check` goes on
to the schema and the rules; a file that cannot be read or parsed leaves it incomplete.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._yaml import ParsedText, parse_yaml
from .codes import E103, E106, E107, E112, E113, Code
from .diagnostics import Diagnostic
from .errors import BuildError
from .location import ConfigPath, Location, SourceMap

#: Sections whose entries are merged by name across the files of a directory.
NAMED_SECTIONS = ("signing_keys", "identity_providers", "token_providers")
#: Sections whose items are concatenated across files.
LIST_SECTIONS = ("tests",)
#: The top-level field that every file of a directory may state, with the same value.
VERSION = "version"
#: Findings about how files combine, not about what one file says: the merged data is complete.
MERGE_CONFLICTS: frozenset[Code] = frozenset({E107, E113})
#: A config file larger than this is refused before parsing (a config is text written by hand).
MAX_FILE_BYTES = 16 * 1024 * 1024

_SINGULAR = {
    "signing_keys": "signing key",
    "identity_providers": "identity provider",
    "token_providers": "token provider",
}


class ConfigReadError(BuildError):
    """The config path cannot be read at all (missing, unreadable): a usage error, exit 2."""


@dataclass(frozen=True)
class LoadedSource:
    """A loaded config: merged plain data, where everything came from, and load findings.

    `data` holds only dict/list/str/int/float/bool/None. It is empty when no file could be used.
    `files` are the display paths of the files read, sorted; `root` is the config's directory.
    """

    data: dict[str, Any]
    source_map: SourceMap
    files: tuple[str, ...]
    root: str
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        """True when loading found no error."""
        return not any(d.is_error for d in self.diagnostics)

    @property
    def complete(self) -> bool:
        """True when every file was read and parsed: the only errors, if any, are merge
        conflicts (`MERGE_CONFLICTS`), after which the first definition stands."""
        return not any(d.is_error and d.entry not in MERGE_CONFLICTS for d in self.diagnostics)


def load_config_source(path: str) -> LoadedSource:
    """Load the file or directory at `path`; raises `ConfigReadError` when it cannot be read."""
    if os.path.isdir(path):
        files = _yaml_files(path)
        root = path
    elif os.path.exists(path):
        files = [path]
        root = os.path.dirname(path) or "."
    else:
        raise ConfigReadError(f"{path}: no such file or directory")
    merger = _Merger()
    if not files:
        msg = "the directory holds no *.yaml or *.yml files"
        merger.diagnostics.append(Diagnostic(E106, msg, Location(path, 1, 1)))
    for file in files:
        text, diagnostic = _read_text(file)
        merger.texts[file] = text
        if diagnostic is not None:
            merger.diagnostics.append(diagnostic)
            continue
        merger.add(file, parse_yaml(text, file))
    source_map = SourceMap(
        keys=MappingProxyType(merger.keys),
        values=MappingProxyType(merger.values),
        texts=MappingProxyType(merger.texts),
    )
    return LoadedSource(merger.data, source_map, tuple(files), root, tuple(merger.diagnostics))


def _yaml_files(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise ConfigReadError(f"{directory}: {exc.strerror or exc}") from exc
    return [
        os.path.join(directory, name)
        for name in names
        if name.endswith((".yaml", ".yml"))
        and not name.startswith(".")  # editor swap and backup files
        and os.path.isfile(os.path.join(directory, name))
    ]


def _read_text(file: str) -> tuple[str, Diagnostic | None]:
    """The file's text, or a diagnostic when it is too large or not UTF-8."""
    try:
        with open(file, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigReadError(f"{file}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        msg = f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
        return "", Diagnostic(E112, msg, Location(file, 1, 1))
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        before = raw[:start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        msg = f"the file is not valid UTF-8 (byte 0x{raw[start]:02x})"
        return "", Diagnostic(E103, msg, Location(file, line, column), "save the file as UTF-8")


class _Merger:
    """Accumulates the files of a config into one document and one set of locations."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.keys: dict[ConfigPath, Location] = {}
        self.values: dict[ConfigPath, Location] = {}
        self.texts: dict[str, str] = {}
        self.diagnostics: list[Diagnostic] = []

    def add(self, file: str, parsed: ParsedText) -> None:
        self.diagnostics.extend(parsed.diagnostics)
        if not isinstance(parsed.data, dict):
            return
        if not self.data and not self.keys:
            # the first usable file: taken whole, which is also the fast path for one file
            self.data = parsed.data
            self.keys.update(parsed.keys)
            self.values.update(parsed.values)
            return
        skip = _Skip()
        offsets: dict[str, int] = {}
        for field, value in parsed.data.items():
            here = self.data.get(field)
            if field in NAMED_SECTIONS and isinstance(here, dict) and isinstance(value, dict):
                skip.exact.add((field,))  # the section stays located in the first file
                self._merge_names(field, value, parsed, skip)
            elif field in LIST_SECTIONS and isinstance(here, list) and isinstance(value, list):
                skip.exact.add((field,))
                offsets[field] = len(here)
                here.extend(value)
            elif field == VERSION and field in self.data:
                self._version_again(value, parsed)
                skip.prefix.add((field,))  # located where it was first stated
            elif field in self.data:
                self._twice(field, (field,), parsed)
                skip.prefix.add((field,))
            else:
                self.data[field] = value
        for table, target in ((parsed.keys, self.keys), (parsed.values, self.values)):
            for path, location in table.items():
                if path and not skip.covers(path):
                    target[_shift(path, offsets)] = location

    def _merge_names(self, field: str, names: dict[str, Any], parsed: ParsedText, skip: _Skip) -> None:
        section: dict[str, Any] = self.data[field]
        for name, entry in names.items():
            if name in section:
                self._twice(f"{_SINGULAR[field]} '{name}'", (field, name), parsed)
                skip.prefix.add((field, name))
            else:
                section[name] = entry

    def _version_again(self, value: Any, parsed: ParsedText) -> None:
        """A later file states `version` too: fine when it is the same (strictly: `true` is not
        `1`), an error naming both places when it differs."""
        first = self.data[VERSION]
        if type(first) is type(value) and first == value:
            return
        there = self.values[(VERSION,)]
        msg = (
            f"this file states version {_shown(value)}, {there.file}:{there.line}:{there.column} "
            f"states version {_shown(first)}"
        )
        hint = "state the same `version: 1` in every file, or in one file only"
        self.diagnostics.append(Diagnostic(E113, msg, parsed.values[(VERSION,)], hint))

    def _twice(self, what: str, path: ConfigPath, parsed: ParsedText) -> None:
        first = self.keys[path]
        here = parsed.keys[path]
        msg = f"{what} is defined in two files: here and in {first.file}:{first.line}"
        hint = "each name and top-level field may be defined in one file only"
        self.diagnostics.append(Diagnostic(E107, msg, here, hint))


def _shown(value: Any) -> str:
    """A version as written when it is a scalar (a version is never a secret), else its kind."""
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return "a list" if isinstance(value, list) else "a mapping"


@dataclass
class _Skip:
    """Paths of a later file whose locations are not copied: exact ones, or whole subtrees."""

    exact: set[ConfigPath] = dataclasses.field(default_factory=set)
    prefix: set[ConfigPath] = dataclasses.field(default_factory=set)

    def covers(self, path: ConfigPath) -> bool:
        return path in self.exact or path[:1] in self.prefix or path[:2] in self.prefix


def _shift(path: ConfigPath, offsets: dict[str, int]) -> ConfigPath:
    if len(path) > 1 and isinstance(path[0], str) and path[0] in offsets:
        index = path[1]
        if isinstance(index, int):
            return (path[0], index + offsets[path[0]], *path[2:])
    return path
