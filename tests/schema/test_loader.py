"""Loading YAML: exact locations, directory merges, and every load problem as a located finding."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tokensmith.schema import _compose, loader
from tokensmith.schema.loader import ConfigReadError, LoadedSource, load_config_source
from tokensmith.schema.location import Location


@pytest.fixture(autouse=True, params=["libyaml", "ruamel"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every loader test runs on both parsers: they must give the same data and findings."""
    if request.param == "ruamel":
        monkeypatch.setattr(_compose, "LIBYAML", None)
    elif _compose.LIBYAML is None:
        pytest.skip("PyYAML with libyaml is not installed")


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def codes(loaded: LoadedSource) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.column) for d in loaded.diagnostics]


def test_every_key_and_value_is_located_one_based(tmp_path: Path) -> None:
    file = write(
        tmp_path / "c.yaml",
        "version: 1\n"
        "identity_providers:\n"
        "  auth0:\n"
        "    algorithms: [RS256, ES256]\n"
        "    mapping:\n"
        "      sub.$: $.sub\n",
    )
    loaded = load_config_source(file)
    sm = loaded.source_map
    assert loaded.diagnostics == ()
    assert sm.key(("version",)) == Location(file, 1, 1)
    assert sm.value(("version",)) == Location(file, 1, 10)
    assert sm.key(("identity_providers", "auth0")) == Location(file, 3, 3)
    assert sm.value(("identity_providers", "auth0", "algorithms", 1)) == Location(file, 4, 25)
    assert sm.key(("identity_providers", "auth0", "mapping", "sub.$")) == Location(file, 6, 7)
    assert sm.value(("identity_providers", "auth0", "mapping", "sub.$")) == Location(file, 6, 14)
    assert loaded.files == (file,)
    assert loaded.root == str(tmp_path)
    assert sm.source_line(Location(file, 6, 1)) == "      sub.$: $.sub"


def test_scalars_become_plain_json_types(tmp_path: Path) -> None:
    file = write(
        tmp_path / "c.yaml",
        "a: 2024-01-01\nb: yes\nc: 0x1F\nd: 1_000\ne: 1.5\nf: ~\ng:\nh: TRUE\ni: '007'\n"
        "j: 2024-01-01T10:00:00Z\nk: 0o17\nl: 010\nm: on\nn: 1e3\no: -.5\np: !!str yes\n"
        "q: 12:30\nr: 'true'\n",
    )
    data = load_config_source(file).data
    # YAML 1.2 core schema, whichever parser composed the text
    assert data == {
        "a": "2024-01-01", "b": "yes", "c": 31, "d": "1_000", "e": 1.5, "f": None, "g": None,
        "h": True, "i": "007", "j": "2024-01-01T10:00:00Z", "k": 15, "l": 10, "m": "on",
        "n": 1000.0, "o": -0.5, "p": "yes", "q": "12:30", "r": "true",
    }  # fmt: skip
    assert_plain(data)


def assert_plain(value: Any) -> None:
    assert type(value) in (dict, list, str, int, float, bool, type(None))
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) is str
            assert_plain(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain(v)


def test_an_empty_value_is_located_at_its_key(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "version: 1\nissuer:\n")
    assert load_config_source(file).source_map.value(("issuer",)) == Location(file, 2, 1)


def test_directory_merges_named_sections_and_concatenates_tests(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.yaml",
        "version: 1\nidentity_providers:\n  one: {issuer: x}\ntests:\n  - name: first\n",
    )
    b = write(
        tmp_path / "b.yml",
        "identity_providers:\n  two: {issuer: y}\ntests:\n  - name: second\n",
    )
    write(tmp_path / "notes.txt", "not yaml: [")
    write(tmp_path / ".swap.yaml", "broken: [")
    loaded = load_config_source(str(tmp_path))
    assert loaded.diagnostics == ()
    assert loaded.files == (a, b)
    assert loaded.data["identity_providers"] == {"one": {"issuer": "x"}, "two": {"issuer": "y"}}
    assert [t["name"] for t in loaded.data["tests"]] == ["first", "second"]
    sm = loaded.source_map
    assert sm.key(("identity_providers", "two")) == Location(b, 2, 3)
    assert sm.key(("identity_providers",)) == Location(a, 2, 1)
    # the second file's first test is test 1 of the merged list
    assert sm.value(("tests", 1, "name")) == Location(b, 4, 11)
    assert sm.value(("tests", 0, "name")) == Location(a, 5, 11)


def test_a_name_in_two_files_names_both_places(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "version: 1\nsigning_keys:\n  main: {algorithm: HS256}\n")
    b = write(tmp_path / "b.yaml", "\nsigning_keys:\n\n  main: {algorithm: RS256}\n")
    loaded = load_config_source(str(tmp_path))
    (finding,) = loaded.diagnostics
    assert (finding.code, finding.location) == ("E107", Location(b, 4, 3))
    assert f"{a}:3" in finding.message
    assert "signing key 'main'" in finding.message
    # the first definition wins and keeps its locations
    assert loaded.data["signing_keys"]["main"] == {"algorithm": "HS256"}
    assert loaded.source_map.value(("signing_keys", "main", "algorithm")).file == a


def test_a_top_level_field_in_two_files_is_refused(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "version: 1\nissuer: https://a/\n")
    b = write(tmp_path / "b.yaml", "issuer: https://b/\n")
    loaded = load_config_source(str(tmp_path))
    assert codes(loaded) == [("E107", 1, 1)]
    assert loaded.diagnostics[0].location.file == b
    assert f"{a}:2" in loaded.diagnostics[0].message
    assert loaded.data["issuer"] == "https://a/"


def test_duplicate_key_in_one_mapping(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "version: 1\nissuer: a\nversion: 2\n")
    loaded = load_config_source(file)
    assert codes(loaded) == [("E102", 3, 1)]
    assert "line 1" in loaded.diagnostics[0].message


def test_syntax_error_is_located_at_the_problem(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "version: 1\nissuer: [a, b\nsigning_keys: {}\n")
    loaded = load_config_source(file)
    assert [d.code for d in loaded.diagnostics] == ["E101"]
    assert loaded.diagnostics[0].location.line == 3
    assert loaded.diagnostics[0].message.startswith("YAML syntax error:")
    assert loaded.data == {}


def test_bad_indentation_is_a_syntax_error_not_a_traceback(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "a:\n  b: 1\n c: 2\n")
    assert [d.code for d in load_config_source(file).diagnostics] == ["E101"]


def test_two_documents_in_one_file_are_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "version: 1\n---\nversion: 1\n")
    assert codes(load_config_source(file)) == [("E101", 2, 1)]


def test_non_utf8_file_is_located_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes("version: 1\nissuer: caf\xe9\n".encode("latin-1"))
    loaded = load_config_source(str(path))
    assert codes(loaded) == [("E103", 2, 12)]
    assert "0xe9" in loaded.diagnostics[0].message


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    assert load_config_source(str(path)).data == {"version": 1}


@pytest.mark.parametrize(
    ("text", "where"), [("version: 1\nissuer: a\x07b\n", (2, 10)), ("é: ok\nb: x\x07\n", (2, 5))]
)
def test_control_character_is_located(tmp_path: Path, text: str, where: tuple[int, int]) -> None:
    file = write(tmp_path / "c.yaml", text)
    assert codes(load_config_source(file)) == [("E101", *where)]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    file = write(tmp_path / "c.yaml", text)
    assert codes(load_config_source(file)) == [("E104", 1, 1)]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    file = write(tmp_path / "c.yaml", text)
    assert codes(load_config_source(file)) == [("E105", 1, 1)]


def test_directory_without_yaml_files(tmp_path: Path) -> None:
    write(tmp_path / "readme.txt", "hello")
    loaded = load_config_source(str(tmp_path))
    assert codes(loaded) == [("E106", 1, 1)]
    assert loaded.diagnostics[0].location.file == str(tmp_path)


def test_missing_path_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigReadError, match="no such file"):
        load_config_source(str(tmp_path / "nope.yaml"))


def test_anchors_and_aliases_are_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "a: &x {b: 1}\nc: *x\n")
    loaded = load_config_source(file)
    assert {d.code for d in loaded.diagnostics} == {"E108"}
    assert loaded.diagnostics[0].location == Location(file, 1, 4)


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    file = write(tmp_path / "c.yaml", "\n".join(lines) + "\n")
    start = time.perf_counter()
    loaded = load_config_source(file)
    assert time.perf_counter() - start < 2
    assert {d.code for d in loaded.diagnostics} == {"E108"}


def test_merge_keys_are_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "a:\n  <<: {b: 1}\n  c: 2\n")
    assert codes(load_config_source(file)) == [("E108", 2, 3)]


@pytest.mark.parametrize(
    ("text", "where"),
    [("a:\n  1: x\n", (2, 3)), ("a:\n  true: x\n", (2, 3)), ("a:\n  ? [k]\n  : x\n", (2, 5))],
)
def test_keys_must_be_strings(tmp_path: Path, text: str, where: tuple[int, int]) -> None:
    file = write(tmp_path / "c.yaml", text)
    assert codes(load_config_source(file)) == [("E109", *where)]


@pytest.mark.parametrize("text", ["a: !!binary aGk=\n", "a: !env SECRET\n", "a: .inf\n"])
def test_unsupported_tags_and_values(tmp_path: Path, text: str) -> None:
    file = write(tmp_path / "c.yaml", text)
    assert codes(load_config_source(file)) == [("E110", 1, 4)]


def test_deep_nesting_is_refused_at_the_first_level_too_deep(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "a: " + "[" * 100 + "]" * 100 + "\n")
    # the top mapping is depth 0, `a`'s list depth 1: depth 65 starts at column 68
    assert codes(load_config_source(file)) == [("E111", 1, 68)]


@pytest.mark.slow
def test_nesting_beyond_the_parser_limit_is_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert [d.code for d in load_config_source(file).diagnostics] == ["E111"]


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("version: 1\nissuer: [a, b\nsigning_keys: {}\n", (3, 13),
         "the list started at line 2, column 9"),
        ('a: "unterminated\n', (2, 1), "the quoted string started at line 1, column 4"),
        ("a:\n  b: 1\n c: 2\n", (3, 2),
         "check the indentation of this line against the lines above it"),
        ("a:\n\t- x\n", (2, 1), "YAML indents with spaces, never tabs"),
    ],
)  # fmt: skip
def test_syntax_errors_have_plain_hints(
    tmp_path: Path, text: str, where: tuple[int, int], hint: str
) -> None:
    file = write(tmp_path / "c.yaml", text)
    (finding,) = load_config_source(file).diagnostics
    assert (finding.code, finding.location, finding.hint) == ("E101", Location(file, *where), hint)


def test_windows_line_endings_keep_locations(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"version: 1\r\nissuer: x\r\nissuer: y\r\n")
    loaded = load_config_source(str(path))
    assert codes(loaded) == [("E102", 3, 1)]
    assert loaded.source_map.value(("issuer",)) == Location(str(path), 2, 9)
    assert loaded.source_map.source_line(Location(str(path), 2, 1)) == "issuer: x"


def test_an_oversized_file_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 64)
    file = write(tmp_path / "c.yaml", "version: 1\n" + "# padding\n" * 10)
    loaded = load_config_source(file)
    assert codes(loaded) == [("E112", 1, 1)]
    assert loaded.data == {}


def test_an_integer_too_long_to_convert_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    file = write(tmp_path / "c.yaml", "a: 1" + "0" * 5000 + "\n")
    assert codes(load_config_source(file)) == [("E110", 1, 4)]


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("a:\n  secret: x\n  secret: hunter2\n", (3, 11)),  # E102 repeated secret
        ("a:\n  secert: !!binary aGk=\n", (2, 11)),  # E110 under a misspelt secret
        ("a:\n  secret: {env: !!binary aGk=}\n", (2, 17)),  # E110 inside a secret reference
    ],
)
def test_load_findings_under_a_secret_field_say_where_the_secret_starts(
    tmp_path: Path, text: str, cut: tuple[int, int]
) -> None:
    [found] = load_config_source(write(tmp_path / "c.yaml", text)).diagnostics
    assert found.secret_at is not None
    assert (found.secret_at.line, found.secret_at.column) == cut


def test_load_findings_elsewhere_show_their_whole_line(tmp_path: Path) -> None:
    [found] = load_config_source(write(tmp_path / "c.yaml", "a:\n  x: .inf\n")).diagnostics
    assert found.secret_at is None


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("a:\n  secret: @hunter2\n", 11),  # a secret that cannot start a plain scalar
        ("a:\n  - private_key: hunter2: x\n", 18),  # a secret holding `: `
        ("a:\n  issuer: @x\n", None),  # not a secret's field: its line is shown whole
    ],
)
def test_a_syntax_error_on_a_secret_line_says_where_the_value_starts(
    tmp_path: Path, text: str, cut: int | None
) -> None:
    [found] = load_config_source(write(tmp_path / "c.yaml", text)).diagnostics
    assert found.code == "E101"
    assert found.secret_at == (None if cut is None else Location(found.location.file, 2, cut))
