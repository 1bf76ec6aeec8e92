"""The runtime's glob matcher (`runtime/globs.py`): semantics, agreement with a regular
expression on small inputs, and time linear in the text whatever the pattern."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime.mapping_api import compile_glob

CASES = [
    ("repo:acme/*:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main", True),
    ("repo:acme/*:ref:refs/heads/main", "repo:acme/a/b/c:ref:refs/heads/main", True),  # `/` too
    ("repo:acme/*:ref:refs/heads/main", "repo:acme-evil/x:ref:refs/heads/main", False),
    ("repo:acme/*:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main2", False),  # anchored
    ("repo:acme/*:ref:refs/heads/main", "xrepo:acme/api:ref:refs/heads/main", False),
    ("refs/heads/release/*", "refs/heads/release/", True),  # `*` may be empty
    ("refs/heads/release/*", "refs/heads/release", False),
    ("v?.?", "v1.2", True),
    ("v?.?", "v1.23", False),
    ("v?.?", "v.2", False),
    ("?", "é", True),  # one code point
    ("?", "👍", True),
    ("?", "", False),
    ("*", "", True),
    ("*", "anything at all", True),
    ("", "", True),
    ("", "x", False),
    ("a*b*c", "abc", True),
    ("a*b*c", "aXbYc", True),
    ("a*b*c", "acb", False),
    ("*ab*ab*", "abab", True),
    ("*ab*ab*", "aba", False),
    ("a?c*", "abcdef", True),
    ("*a?c", "xxabcxxadc", True),
    ("*a?c", "xxabcxxadcx", False),
    ("*?", "", False),
    ("*??*", "ab", True),
    ("**a**", "bab", True),
    ("Main", "main", False),  # case-sensitive
    ("é*", "é", True),
    ("é*", "e\u0301", False),  # no normalisation: a combining accent is another text
]


@pytest.mark.parametrize(("pattern", "text", "matches"), CASES)
def test_glob_semantics(pattern: str, text: str, matches: bool) -> None:
    assert compile_glob(pattern)(text) is matches


@pytest.mark.parametrize("value", [None, 1, 1.5, True, ["a"], {"a": 1}, b"abc"])
def test_only_strings_match(value: object) -> None:
    for pattern in ("*", "a*", "?", "*a?", "abc"):
        assert compile_glob(pattern)(value) is False  # type: ignore[arg-type]


def _as_regex(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _simulated(pattern: str, text: str) -> bool:
    """The pattern run as a set of states over the text: slow (pure Python, len(text) x
    len(pattern)) but obviously right and never exponential."""

    def closure(states: set[int]) -> set[int]:
        out = set(states)
        for state in sorted(states):
            while state < len(pattern) and pattern[state] == "*":
                state += 1
                out.add(state)
        return out

    states = closure({0})
    for char in text:
        step = set()
        for state in states:
            if state < len(pattern):
                if pattern[state] == "*":
                    step.add(state)
                elif pattern[state] in ("?", char):
                    step.add(state + 1)
        states = closure(step)
        if not states:
            return False
    return len(pattern) in states


ALPHABET = "ab/?*é"


@pytest.mark.slow  # hundreds of examples
@settings(max_examples=600, deadline=None)
@given(
    pattern=st.text(alphabet=ALPHABET, max_size=8),
    text=st.text(alphabet="ab/é?*\n", max_size=10),
)
def test_the_matcher_agrees_with_a_regular_expression(pattern: str, text: str) -> None:
    # small inputs, where a backtracking engine is still quick: the reference
    expected = _as_regex(pattern).fullmatch(text) is not None
    assert compile_glob(pattern)(text) is expected
    assert _simulated(pattern, text) is expected


ADVERSARIAL = [
    "*a*a*a*a*a*b",
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b*",
    "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "*aaaaaaaaaaaaaaaaaaaaaaaaaaaaab*",
    "*a?a?a?a?a?a?a?a?b*",
    "*?a?*?a?*?a?*?b",
    "?*?*?*?*?*?*?*?*b",
    "*a*a*a*a*a*a",  # matches: every segment found at once
]


@pytest.mark.parametrize("pattern", ADVERSARIAL)
def test_adversarial_patterns_answer_at_once_on_sixteen_kilobytes(pattern: str) -> None:
    match = compile_glob(pattern)
    for text in ("a" * 16 * 1024, "ab" * 8 * 1024, "a" * (16 * 1024 - 1) + "b"):
        started = time.perf_counter()
        result = match(text)
        elapsed = time.perf_counter() - started
        assert result is _simulated(pattern, text)
        assert elapsed < 0.1, f"{pattern!r} took {elapsed * 1000:.1f} ms on {len(text)} chars"


@pytest.mark.parametrize("pattern", ADVERSARIAL)
def test_time_grows_linearly_with_the_text(pattern: str) -> None:
    # a backtracking matcher's time on these grows like a power of the text's length (n^5 for
    # the first): four times the text must cost about four times as much, not 4^k
    match = compile_glob(pattern)
    timings = []
    for size in (1 << 15, 1 << 17):
        text = "a" * size
        started = time.perf_counter()
        match(text)
        timings.append(time.perf_counter() - started)
    assert timings[1] < timings[0] * 12 + 0.02, timings


def test_sixteen_kilobytes_of_a_against_the_classic_pattern() -> None:
    match = compile_glob("*a*a*a*a*a*b")
    started = time.perf_counter()
    assert match("a" * 16 * 1024) is False
    assert match("a" * 16 * 1024 + "b") is True
    assert time.perf_counter() - started < 0.1
