"""Path parsing: the accepted dialect, definite vs indefinite, and errors that point at a column."""

from __future__ import annotations

import pytest

from tokensmith.compiler.mappings.paths import PathSyntaxError, parse_path

CLASSIFIED = [
    ("$.sub", "input", ("sub",), "sub"),
    ("$.a['b c'].d", "input", ("a", "b c", "d"), "a"),
    ('$["x.y"]', "input", ("x.y",), "x.y"),
    ("$.groups[0]", "input", ("groups", 0), "groups"),
    ("$.groups[-1]", "input", ("groups", -1), "groups"),
    ("$['ä']", "input", ("ä",), "ä"),
    ("$", "input", (), None),
    ("$$.service", "context", ("service",), "service"),
    ("$$", "context", (), None),
    ("$.groups[*]", "input", None, "groups"),
    ("$.*", "input", None, None),
    ("$.a[1:3]", "input", None, "a"),
    ("$.a[?(@.b == 'c')]", "input", None, "a"),
    ("$['a','b']", "input", None, None),
    ("$.a[0,1]", "input", None, "a"),
    ("$..role", "input", None, None),
    ("$.a..b", "input", None, "a"),
]


@pytest.mark.parametrize(("text", "root", "steps", "head"), CLASSIFIED)
def test_paths_are_classified_definite_or_indefinite(
    text: str, root: str, steps: tuple[str | int, ...] | None, head: str | None
) -> None:
    path = parse_path(text)
    assert (path.root, path.steps, path.head) == (root, steps, head)
    assert path.definite is (steps is not None)
    assert path.recursive is (".." in text)
    assert path.expression == (text[1:] if root == "context" else text)


REFUSED = [
    ("sub", 0, "starts with `$`"),
    ("$.ä", 2, "unexpected character 'ä'"),
    ("$$.ä", 3, "unexpected character 'ä'"),
    ("$.a b", 4, "unexpected 'b'"),
    ("$a", 1, "unexpected 'a'"),
    ("$.a[", 4, "ends too early"),
    ("$.a['b", 6, "not closed"),
    ("$.a|b", 3, "`|`"),
    ("$.a where b", 4, "`where` is not supported"),
    ("$.a.`len`", 4, "`len` is not supported"),
    ("$.a + $.b", 0, "arithmetic"),
    ("$.a[?(@.b == c)]", 0, "unquoted word"),
    ("$.`this`", 2, "only allowed inside a filter"),
    ("$.a\nb", 3, "line break"),
    ("$.a[?(@.b =~ 'x.*')]", 10, "`=~` is not supported"),
]


@pytest.mark.parametrize(("text", "offset", "reason"), REFUSED)
def test_refused_paths_give_the_reason_and_the_offending_offset(
    text: str, offset: int, reason: str
) -> None:
    with pytest.raises(PathSyntaxError) as caught:
        parse_path(text)
    assert reason in caught.value.reason
    assert caught.value.offset == offset


def test_a_refused_path_is_refused_again_when_asked_twice() -> None:
    # jsonpath-ng warns about deprecated syntax only once per call: nothing may be cached
    for _ in range(2):
        with pytest.raises(PathSyntaxError):
            parse_path("$.x|y")


WIDENING = [
    ("$.*.role", 2),
    ("$[*].role", 2),
    ("$['app_metadata','user_metadata'].role", 1),
    ("$.org[?(@.admin)].id", 5),
    ("$.teams[*].name", 8),
    ("$.groups[*]", None),  # nothing named after it
    ("$.teams[:].name", None),  # a slice never selects object members
    ("$.teams[0,1].name", None),
    ("$.a.b", None),
]


@pytest.mark.parametrize(("text", "offset"), WIDENING)
def test_a_path_that_names_a_claim_inside_unnamed_members_is_marked(
    text: str, offset: int | None
) -> None:
    assert parse_path(text).widening == offset
