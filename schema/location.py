"""Where a value came from: file, 1-based line and column, and a map from config paths to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

#: A path into the merged config document, e.g. ("identity_providers", "auth0", "mapping", "sub.$").
ConfigPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a config file. `file` is the path as the user named it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SourceMap:
    """Locations of every key and value of a loaded config, by config path.

    `keys[path]` is where the mapping key that leads to `path` is written; `values[path]` is where
    its value starts. The root path `()` maps to the start of the (first) file.
    """

    keys: Mapping[ConfigPath, Location] = field(default_factory=lambda: MappingProxyType({}))
    values: Mapping[ConfigPath, Location] = field(default_factory=lambda: MappingProxyType({}))
    #: The text of every loaded file, by `Location.file`, for carets under source lines.
    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def key(self, path: ConfigPath) -> Location:
        """The location of the key of `path`, or of its nearest located ancestor."""
        return self._nearest(self.keys, path) or self.value(path)

    def value(self, path: ConfigPath) -> Location:
        """The location of the value at `path`, or of its nearest located ancestor."""
        found = self._nearest(self.values, path) or self._nearest(self.keys, path)
        if found is not None:
            return found
        first = next(iter(self.texts), "<config>")
        return Location(first, 1, 1)

    @staticmethod
    def _nearest(table: Mapping[ConfigPath, Location], path: ConfigPath) -> Location | None:
        for end in range(len(path), -1, -1):
            found = table.get(path[:end])
            if found is not None:
                return found
        return None

    def source_line(self, location: Location) -> str | None:
        """The text of the line at `location`, without its newline, if the file is known."""
        lines = self._lines.get(location.file)
        if lines is not None and 1 <= location.line <= len(lines):
            return lines[location.line - 1]
        return None

    @cached_property
    def _lines(self) -> Mapping[str, tuple[str, ...]]:
        # Split each file once, not once per finding: thousands of findings in a large file
        # would otherwise make printing them quadratic.
        return {file: tuple(text.splitlines()) for file, text in self.texts.items()}
