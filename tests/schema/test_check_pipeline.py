"""The check pipeline: stages in order, each only after a clean one, and never a traceback."""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tokensmith.compiler.check import CheckResult, check_loaded, check_path
from tokensmith.schema.codes import E342, E343
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.loader import load_config_source
from tokensmith.schema.location import Location, SourceMap
from tokensmith.schema.models import Config

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/*.yaml"))

CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  main: {algorithm: HS256, secret: {env: MAIN_KEY}}
identity_providers:
  ci:
    preset: github-actions
    owner: my-org
    mapping: {sub.$: $.sub}
token_providers:
  deploy:
    signing_key: main
    identity_providers: [ci]
    mapping: {sub.$: $.sub}
"""


def run(tmp_path: Path, text: str) -> CheckResult:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return check_path(str(path))


def test_a_clean_config_with_a_preset_is_expanded_and_valid(tmp_path: Path) -> None:
    result = run(tmp_path, CONFIG)
    assert result.diagnostics == ()
    assert result.ok
    assert result.config is not None
    ci = result.config.identity_providers["ci"]
    assert ci.issuer == "https://token.actions.githubusercontent.com"
    assert ci.require  # the preset pins the owner
    # derived fields are located at the user's `preset:` line
    assert result.source_map.value(("identity_providers", "ci", "issuer")).line == 7


def test_load_errors_come_alone(tmp_path: Path) -> None:
    result = run(tmp_path, CONFIG + "version: 1\nbogus_field: 1\n")
    assert [d.code for d in result.diagnostics] == ["E102"]
    assert result.config is None


def test_preset_errors_stop_before_the_schema(tmp_path: Path) -> None:
    result = run(tmp_path, CONFIG.replace("owner: my-org", "ownr: my-org"))
    assert {d.code for d in result.diagnostics} <= {"E261", "E262"}
    assert result.diagnostics


def test_schema_errors_stop_before_the_rules(tmp_path: Path) -> None:
    text = CONFIG.replace("signing_key: main", "signing_key: nowhere\n    expires_in: [1]")
    result = run(tmp_path, text)
    assert [d.code for d in result.diagnostics] == ["E202"]  # not also E342 unknown key


def test_rules_run_on_a_valid_config(tmp_path: Path) -> None:
    result = run(tmp_path, CONFIG.replace("signing_key: main", "signing_key: mian"))
    assert [(d.code, d.location.line) for d in result.diagnostics] == [("E342", 12)]
    assert not result.ok


def test_findings_are_sorted_and_deduplicated(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    file = str(path)

    def rules(config: Config, source_map: SourceMap) -> list[Diagnostic]:
        late = Diagnostic(E342, "late", Location(file, 9, 1))
        early = Diagnostic(E343, "early", Location(file, 2, 1))
        return [late, early, late]

    result = check_loaded(load_config_source(file), rules)
    assert [d.code for d in result.diagnostics] == ["E343", "E342"]  # by position, not code
    assert result.errors == result.diagnostics
    assert result.warnings == ()


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from([
    *"ab:{}[],-&*!|>'\"#\n \t%@`?~.$0\x00\xff", "version: 1\n", "identity_providers:\n",
    "  a:\n", "    algorithms: [RS256]\n", "<<: ", "!!binary ", "{env: A}", "tests:\n  - ",
]), max_size=40).map("".join))  # fmt: skip
def test_any_text_gives_findings_not_a_traceback(text: str) -> None:
    with _scratch() as path:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        check_path(str(path))


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=5),
    st.sampled_from(["HS256", "none", "1h", "http://127.0.0.1/x", "$.x", "root", "github-actions"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "env", "keys"]), inner)
    ),
    max_leaves=10,
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(EXAMPLES), st.integers(0, 10**6), VALUES)
def test_any_one_field_changed_in_an_example_gives_findings_not_a_traceback(
    example: Path, which: int, value: Any
) -> None:
    data = YAML(typ="safe", pure=True).load(example.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    paths = [p for p in _paths(data) if p]
    *parents, last = paths[which % len(paths)]
    target = data
    for part in parents:
        target = target[part]
    target[last] = value
    with _scratch() as path:
        path.write_text(json.dumps(data), encoding="utf-8")
        check_path(str(path))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list
    ) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


class _scratch:
    """A temporary config file (hypothesis tests cannot take the function-scoped tmp_path)."""

    def __enter__(self) -> Path:
        self._dir = tempfile.TemporaryDirectory()
        return Path(self._dir.name) / "c.yaml"

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()
