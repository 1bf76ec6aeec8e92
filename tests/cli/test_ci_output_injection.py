"""What tokensmith prints in CI cannot write commands for the CI or Markdown for a comment.

GitHub Actions obeys `::error ...` and `::add-mask::` lines in a job's output, and a pull
request comment renders Markdown and some HTML. Names and values come from the config under
review, so: a test name with a control character is refused (E366), and every renderer a CI
shows (test results, findings, the diff) keeps each value on one line and inside its code span.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tokensmith.cli import main
from tokensmith.commands.diff import render_markdown, render_text_diff
from tokensmith.commands.test import render_results
from tokensmith.review.diff import CaseChange, Diff, FieldChange, ItemChange
from tokensmith.review.outcome import Outcome
from tokensmith.review.testing import CaseResult
from tokensmith.schema.location import Location

from .test_bad_inputs import AUTH0, CONFIG

INJECTED = "ok\n::add-mask::hunter2\n::error file=x.yaml,line=1::forged\r::warning::x"
HOSTILE_VALUES = [
    INJECTED,
    "``</code><img src=x onerror=alert(1)>``",
    "`` `<script>alert(1)</script>` ``\n\n## a heading\n\n<b>bold</b>",
    "a\u2028::error::x\x85::error::y",
    "````x`` <i>i</i>",
]


def _config(tmp_path: Path, name: str) -> str:
    path = tmp_path / "tokensmith.yaml"
    case = (f"{{name: {_yaml(name)}, service: orders, token: {AUTH0}, "
            "expect: {identity_provider: auth0}}")
    path.write_text(f"{CONFIG}tests:\n  - {case}\n")
    return str(path)


def _yaml(text: str) -> str:
    import json
    return json.dumps(text)


def _commands(text: str) -> list[str]:
    """Lines a CI runner would read as commands (GitHub: a line starting with `::`)."""
    import re
    return [line for line in re.split(r"\r\n|\r|\n", text) if line.lstrip().startswith("::")]


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_a_test_name_with_a_line_break_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert main(["test", _config(tmp_path, INJECTED), "--format", fmt]) == 1
    out = capsys.readouterr()
    assert "E366" in out.err
    assert _commands(out.out + out.err) == []


def test_check_in_github_format_writes_one_command_per_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", _config(tmp_path, INJECTED), "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert [line.split(" ", 1)[0] for line in _commands(out)] == ["::error"]
    assert "::add-mask::" not in out


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_test_results_print_each_case_on_its_lines(value: str) -> None:
    outcome = Outcome("auth0", {"sub": value})
    results = [CaseResult(value, Location("c.yaml", 1, 1), outcome, ()),
               CaseResult(value, Location("c.yaml", 2, 1), outcome, (f"expected {value}",))]
    text = render_results(results)
    assert _commands(text) == []
    assert len(text.splitlines()) == 4 and text.isprintable() is False  # only the "\n"s
    assert all(line.isprintable() for line in text.splitlines())


def _diff(value: str) -> Diff:
    change = FieldChange(f"mapping.{value}", f"= {value}", f"<- $.{value}")
    issued, refused = Outcome("auth0", {"x": value}), Outcome(None, None, "invalid_request", value)
    return Diff(
        old=value, new="new",
        items=(ItemChange("identity_providers", value, "changed", (change,)),
               ItemChange("token_providers", value, "added", (change,))),
        cases=(CaseChange(value, issued, refused, ()),
               CaseChange("claims", issued, Outcome("auth0", {"x": "y"}), (change,))),
        notes=(value,),
    )


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_the_markdown_diff_keeps_values_inside_their_code_spans(value: str) -> None:
    markdown = render_markdown(_diff(value))
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    for tag in ("<img", "<script", "<b>", "<i>", "<h2>a heading"):
        assert tag not in html, (tag, markdown)
    assert _commands(markdown) == []
    # the renderer's own HTML is all there is: the collapsible block of the claims
    assert html.count("<details>") == 1


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_the_text_diff_keeps_values_on_their_lines(value: str) -> None:
    text = render_text_diff(_diff(value))
    assert _commands(text) == []
    assert all(line.isprintable() for line in text.splitlines())


def test_a_mapping_constant_with_backticks_through_the_real_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text(CONFIG)
    hostile = "x``</code><img src=x onerror=alert(1)>``"
    new.write_text(CONFIG.replace("mapping: {sub.$: $.sub}}", "mapping: {sub.$: $.sub, "
                                  f"team: {_yaml(hostile)}}}}}"))
    assert main(["diff", str(old), str(new), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "img" in markdown
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<img" not in html
