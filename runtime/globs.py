"""Glob matching without backtracking: `*` any run of characters (`/` included), `?` exactly one.

A pattern matches the whole text (anchored at both ends); there is no escape, so a pattern
cannot ask for a literal `*` or `?`. Characters are Unicode code points, compared exactly (no
case folding, no normalisation), as every other tokensmith comparison.

Why not a regular expression: a pattern from the config runs on text a token's holder chooses,
and a backtracking engine given `*a*a*a*a*a*b` and 16 KB of `a` explores on the order of n^5
ways to split the text. Here the pattern is cut at its stars into fixed-length *segments* (each a
run of literal characters and `?`): the first must start the text, the last must end it, and
each one between is placed at its leftmost fit after the one before. Leftmost placement is never
wrong, since a segment placed further right only leaves less room for the ones after it, so
nothing is ever retried. Each segment scans the text once (`str.find` for its longest literal
run, then a check of its other runs at each candidate), so matching costs at most
O(len(text) x len(pattern)): linear in the claim for any pattern. The common shapes (`pre*`,
`*suf`, `pre*suf`, no `?`) reduce to `startswith` / `endswith` / `find`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

GlobMatcher = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Segment:
    """A fixed-length piece of a pattern between stars: literal runs at offsets, `?` between."""

    length: int
    #: (offset in the segment, literal text), in order; `?` positions are left out
    runs: tuple[tuple[int, str], ...]
    #: the index in `runs` of the longest run, which `find` looks for
    anchor: int

    def fits_at(self, text: str, start: int) -> bool:
        """Whether the segment matches `text` at `start` (the caller checked the length)."""
        for offset, literal in self.runs:  # noqa: SIM110 (a loop: no generator per candidate)
            if not text.startswith(literal, start + offset):
                return False
        return True

    def leftmost(self, text: str, start: int, end: int) -> int:
        """The first position `p >= start` where the segment fits with `p + length <= end`,
        or -1."""
        last = end - self.length
        if last < start:
            return -1
        if not self.runs:
            return start
        offset, literal = self.runs[self.anchor]
        at = text.find(literal, start + offset, last + offset + len(literal))
        while at >= 0:
            position = at - offset
            if self.fits_at(text, position):
                return position
            at = text.find(literal, at + 1, last + offset + len(literal))
        return -1


def _segment(piece: str) -> _Segment:
    runs: list[tuple[int, str]] = []
    start = None
    for index, char in enumerate(piece):
        if char == "?":
            if start is not None:
                runs.append((start, piece[start:index]))
                start = None
        elif start is None:
            start = index
    if start is not None:
        runs.append((start, piece[start:]))
    # the longest run gives the fewest candidates; among equals the last, which more often
    # holds what tells texts apart (`*:ref:refs/heads/main`)
    anchor = max(range(len(runs)), key=lambda i: (len(runs[i][1]), i), default=0)
    return _Segment(len(piece), tuple(runs), anchor)


def compile_glob(pattern: str) -> GlobMatcher:
    """`match(text) -> bool` for `pattern`; a text that is not a `str` never matches.

    The returned function runs in time linear in `len(text)` whatever the pattern.
    """
    if not isinstance(pattern, str):
        raise TypeError("a glob pattern is a string")
    pieces = pattern.split("*")
    if "?" not in pattern:
        return _literal_matcher(pieces)
    segments = tuple(_segment(piece) for piece in pieces)
    return _general_matcher(segments)


def _literal_matcher(pieces: list[str]) -> GlobMatcher:
    """Patterns without `?`: `startswith`, `endswith` and `find`, all in C."""
    if len(pieces) == 1:
        whole = pieces[0]
        return lambda text: type(text) is str and text == whole
    head, *middle, tail = pieces
    middle = [piece for piece in middle if piece]
    shortest = len(head) + len(tail) + sum(map(len, middle))
    if not middle:

        def head_and_tail(text: str) -> bool:
            return (
                type(text) is str
                and len(text) >= shortest
                and text.startswith(head)
                and text.endswith(tail)
            )

        return head_and_tail

    def with_middle(text: str) -> bool:
        if type(text) is not str or len(text) < shortest:
            return False
        if not (text.startswith(head) and text.endswith(tail)):
            return False
        position, end = len(head), len(text) - len(tail)
        for piece in middle:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True

    return with_middle


def _general_matcher(segments: tuple[_Segment, ...]) -> GlobMatcher:
    """Patterns with `?`: fixed-length segments placed leftmost, as the module docstring says."""
    if len(segments) == 1:
        only = segments[0]
        return lambda text: (
            type(text) is str and len(text) == only.length and only.fits_at(text, 0)
        )
    head, *middle, tail = segments
    shortest = sum(segment.length for segment in segments)

    def match(text: str) -> bool:
        if type(text) is not str or len(text) < shortest:
            return False
        end = len(text) - tail.length
        if not (head.fits_at(text, 0) and tail.fits_at(text, end)):
            return False
        position = head.length
        for segment in middle:
            found = segment.leftmost(text, position, end)
            if found < 0:
                return False
            position = found + segment.length
        return True

    return match

