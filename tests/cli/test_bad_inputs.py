"""Every bad input to the CLI gets a clear message and the right exit code, never a traceback.

A config mistake: a located message and exit 1; a usage or I/O error: exit 2; a secret never in
the output. Most cases run `tokensmith.cli.main` in-process; the ones whose crash only shows
through the real entry point (a traceback, Python's exit 1) run it as a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokensmith.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "statebacked"
IDPS = str(FIXTURES / "idps.json")
TOKEN_PROVIDERS = str(FIXTURES / "token-providers.json")
NOW = 1_767_225_600
AUTH0 = "{iss: https://acme.us.auth0.com/, aud: https://api.example.com/, sub: alice}"
CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k: {algorithm: HS256, secret: {env: BAD_INPUTS_KEY}}
identity_providers:
  auth0:
    issuer: https://acme.us.auth0.com/
    audience: https://api.example.com/
    jwks_url: https://acme.us.auth0.com/.well-known/jwks.json
    algorithms: [RS256]
    mapping: {sub.$: $.sub}
token_providers:
  orders: {signing_key: k, identity_providers: [auth0], mapping: {sub.$: $.sub}}
"""
TESTS = f"""\
tests:
  - {{name: alice is issued, service: orders, token: {AUTH0}, expect: {{claims: {{act: {{sub: alice}}}}}}}}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config with one passing test, its bundle, and assorted bad files."""
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "tokensmith.yaml").write_text(CONFIG + TESTS)
    assert main(["compile", str(root / "tokensmith.yaml"), "-o", str(root / "bundle")]) == 0
    (root / "empty").mkdir()
    (root / "plain.txt").write_text("hello\n")
    (root / "binary.bin").write_bytes(b"\xff\xfe\x00garbage")
    (root / "not.json").write_text("{")
    (root / "ok.json").write_text('{"sub": "alice"}')
    return root


def run(argv: list[str]) -> int:
    """`main(argv)`, with argparse's usage error (SystemExit) turned into its code."""
    try:
        return main(argv)
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code


def cli(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "tokensmith", *args], input=stdin.decode(
        "latin-1"), capture_output=True, text=True, timeout=60, cwd=cwd,
        env={**os.environ, **(env or {})})
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def config_with(tmp_path: Path, tests: str) -> str:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(CONFIG + tests)
    return str(path)


# --- check, compile, diff: paths that are missing or not what they should be --------------------

PATH_CASES = [
    (["check", "{w}/missing.yaml"], 2, "cannot read"),
    (["check", "{w}/empty"], 1, "E106"),
    (["check", "{w}/plain.txt"], 1, "plain.txt:1:1"),
    (["check", "{w}/binary.bin"], 1, "not valid UTF-8"),
    (["compile", "{w}/missing.yaml", "-o", "{w}/out"], 2, "cannot read"),
    (["compile", "{w}/tokensmith.yaml", "-o", "{w}/plain.txt"], 2, "not a directory"),
    (["diff", "{w}/missing", "{w}/tokensmith.yaml"], 2, "missing"),
    (["diff", "{w}/plain.txt", "{w}/tokensmith.yaml"], 1, "plain.txt:1:1"),
    (["diff", "--bundle", "old", "{w}/bundle", "{w}/tokensmith.yaml"], 0, "is a bundle"),
    (["diff", "{w}/bundle", "{w}/tokensmith.yaml"], 1, "pass --bundle to read a side as one"),
    (["diff", "{w}/tokensmith.yaml", "{w}/tokensmith.yaml"], 0, "no change"),
]


@pytest.mark.parametrize(("argv", "code", "message"), PATH_CASES,
                         ids=[" ".join(c[0]).replace("{w}/", "") for c in PATH_CASES])
def test_paths_that_are_missing_or_wrong(workdir: Path, capsys: pytest.CaptureFixture[str],
                                         argv: list[str], code: int, message: str) -> None:
    assert run([a.format(w=workdir) for a in argv]) == code
    out = capsys.readouterr()
    assert message in out.out + out.err


@pytest.mark.parametrize(("now", "message"), [
    ("1" + "0" * 400, "(401 characters) is out of range"),
    ("inf", "not a whole number of seconds since 1970: 'inf'"),
])
def test_diff_now_out_of_range(workdir: Path, capsys: pytest.CaptureFixture[str], now: str,
                               message: str) -> None:
    config = str(workdir / "tokensmith.yaml")
    assert run(["diff", config, config, "--now", now]) == 2
    assert message in capsys.readouterr().err


def test_a_literal_secret_is_not_shown_by_another_finding_on_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(CONFIG.replace("k: {algorithm: HS256, secret: {env: BAD_INPUTS_KEY}}",
                                   "k: {algorithm: HS999, secret: hunter2-MARKER, extra: 1}"))
    assert run(["check", str(path)]) == 1
    out = capsys.readouterr()
    assert "E204" in out.out and "E203" in out.out
    assert "hunter2-MARKER" not in out.out + out.err


def test_diff_of_a_bundle_with_itself_says_its_note_once(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(workdir / "bundle")
    assert run(["diff", "--bundle", "both", bundle, bundle]) == 0
    assert capsys.readouterr().out.count("is a bundle") == 1


# --- serve: every refusal comes before a socket is opened ---------------------------------------

@pytest.fixture()
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail instead of serving, should a bad bundle ever get that far."""
    def refuse(*args: Any) -> int:
        raise AssertionError("serve went on to open a socket")

    monkeypatch.setattr("tokensmith.runtime.server.serve", refuse)
    monkeypatch.setenv("BAD_INPUTS_KEY", "a-signing-secret-of-more-than-32-bytes!")


def tampered(bundle: Path, target: Path) -> None:
    target.mkdir()
    for name in ("manifest.json", "config.json", "mappings.py"):
        (target / name).write_bytes((bundle / name).read_bytes())
    (target / "mappings.py").write_text((bundle / "mappings.py").read_text() + "# edited\n")


# A path that is not a bundle at all is a usage error (2), whatever it is; a bundle that is
# there but does not check out is refused (1).
@pytest.mark.usefixtures("no_server")
@pytest.mark.parametrize(("make", "code", "message"), [
    (lambda w, t: str(w / "missing"), 2, "missing: no such file or directory"),
    (lambda w, t: str(w / "plain.txt"), 2, "plain.txt: not a bundle directory"),
    (lambda w, t: str(w / "empty"), 2, "empty: no manifest.json, so not a tokensmith bundle"),
    (lambda w, t: str(w / "tokensmith.yaml"), 2,
     "not a bundle directory; it looks like a config: compile it first (tokensmith compile "),
    (lambda w, t: str(w), 2, "no manifest.json, so not a tokensmith bundle; it looks like a "
     "config: compile it first"),
    (lambda w, t: (tampered(w / "bundle", t / "b"), str(t / "b"))[1], 1, "mappings.py"),
], ids=["missing", "a-file", "empty-dir", "config-file", "config-dir", "tampered"])
def test_serve_refuses_a_bad_bundle(workdir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str],
                                    make: Callable[[Path, Path], str], code: int,
                                    message: str) -> None:
    assert run(["serve", make(workdir, tmp_path), "--port", "0"]) == code
    assert message in capsys.readouterr().err


def test_serve_help_names_the_exit_code_of_a_path_that_is_not_a_bundle(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit 2 when BUNDLE_DIR is not a bundle (missing, not a directory, or without " \
        "manifest.json, such as a config: compile it first)" in text
    assert "Exit 1 when the bundle is refused" in text


@pytest.mark.usefixtures("no_server")
def test_serve_an_unreadable_bundle_is_an_io_error(
        workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # chmod cannot take read permission from root, so the refusal comes from the OS call itself
    def denied(path: str) -> list[str]:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "listdir", denied)
    assert run(["serve", str(workdir / "bundle")]) == 2
    assert "Permission denied" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "message"), [
    (["--port", "99999"], "between 0 and 65535"),
    (["--port", "abc"], "not a port number: 'abc'"),
    (["--port=-1"], "between 0 and 65535"),
    (["--workers", "0"], "at least 1"),
    (["--workers", "two"], "not a whole number: 'two'"),
    (["--workers", "100000"], "at most 256"),
    (["--drain-seconds", "-1"], "between 0 and 3600 seconds"),
    (["--drain-seconds", "nan"], "between 0 and 3600 seconds"),
    (["--drain-seconds", "1e9"], "between 0 and 3600 seconds"),
    (["--drain-seconds", "soon"], "not a number of seconds: 'soon'"),
])
def test_serve_bad_options_are_usage_errors(workdir: Path, capsys: pytest.CaptureFixture[str],
                                            option: list[str], message: str) -> None:
    assert run(["serve", str(workdir / "bundle"), *option]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "_port" not in err and "_positive" not in err and "_workers" not in err


# --- test: odd cases and options ------------------------------------------------------------------

@pytest.mark.parametrize(("tests", "code", "message"), [
    ("tests:\n  - {name: a, service: orders, token: x, expect: {error: expired}}\n", 1,
     "E202"),
    ("tests:\n  - {name: a, service: orders, token: {sub: !!binary aGk=}, expect: "
     "{error: expired}}\n", 1, "tokensmith.yaml:"),
    ("tests:\n  - {name: a, service: orders, token: {sub: .nan}, expect: {error: expired}}\n", 1,
     "tokensmith.yaml:"),
    (f"tests:\n  - {{name: a, service: orders, now: -5, token: {AUTH0}, "
     f"expect: {{identity_provider: auth0}}}}\n", 0, "1 passed, 0 failed"),
    (f"tests:\n  - {{name: a, service: orders, now: 1{'0' * 400}, token: {AUTH0}, "
     f"expect: {{identity_provider: auth0}}}}\n", 1, "is out of range"),
    (f"tests:\n  - {{name: a, service: orders, token: {{iss: https://acme.us.auth0.com/, "
     f"aud: https://api.example.com/, sub: a, exp: {'9' * 40}}}, "
     f"expect: {{identity_provider: auth0}}}}\n", 0, "1 passed, 0 failed"),
], ids=["token-not-object", "binary-value", "nan-value", "now-negative", "now-huge", "exp-huge"])
def test_odd_test_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str], tests: str,
                        code: int, message: str) -> None:
    assert run(["test", config_with(tmp_path, tests), "--now", str(NOW)]) == code
    out = capsys.readouterr()
    assert message in out.out + out.err


def test_a_huge_case_now_does_not_crash_diff(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    tests = (f"tests:\n  - {{name: a, service: orders, now: 1{'0' * 400}, token: {AUTH0}, "
             f"expect: {{identity_provider: auth0}}}}\n")
    path = config_with(tmp_path, tests)
    assert run(["diff", path, path]) == 0
    assert "1 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(("option", "code", "message"), [
    (["-k", "[(*+?"], 2, "no test case name contains '[(*+?'"),
    (["-k", ".*"], 2, "no test case name contains"),
    (["-k", "ALICE"], 0, "1 passed, 0 failed"),
    (["--now", "abc"], 2, "not a whole number of seconds"),
    (["--now", "1" + "0" * 400], 2, "out of range"),
    (["--now=-99999999999999999999"], 2, "out of range"),
])
def test_test_options(workdir: Path, capsys: pytest.CaptureFixture[str], option: list[str],
                      code: int, message: str) -> None:
    assert run(["test", str(workdir / "tokensmith.yaml"), *option]) == code
    out = capsys.readouterr()
    assert message in out.out + out.err


def test_junit_stays_well_formed_xml_with_control_characters(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xml.etree import ElementTree

    # a test's name may not hold one (E366); claim values, which failures print, still may
    tests = ('tests:\n  - {name: "a b", service: orders, token: {iss: '
             'https://acme.us.auth0.com/, aud: https://api.example.com/, sub: "\\x02"}, '
             'expect: {claims: {act: {sub: "\\x03"}}}}\n')
    assert run(["test", config_with(tmp_path, tests), "--format", "junit"]) == 1
    suites = ElementTree.fromstring(capsys.readouterr().out)
    case = suites.find("testsuite/testcase")
    assert case is not None and case.get("name") == "a b"
    failure = case.find("failure")
    assert failure is not None and "\\u0003" in (failure.text or "")
    named = tests.replace('"a b"', '"a\\x01b"')
    assert run(["test", config_with(tmp_path, named), "--format", "junit"]) == 1
    assert "E366" in capsys.readouterr().err


# --- explain ------------------------------------------------------------------------------------

EXPLAIN_CASES: list[tuple[list[str], int, str]] = [
    (["--token", "garbage"], 1, "not a compact JWS"),
    (["--token", ""], 1, "not a compact JWS"),
    (["--token", "a" * 1_000_000], 1, "token_too_long"),
    (["--claims", "{w}/missing.json"], 2, "cannot read"),
    (["--claims", "{w}/not.json"], 2, "is not JSON (Expecting property name"),
    (["--claims", "{w}/binary.bin"], 2, "not UTF-8 text (byte 0xff at offset 0)"),
    (["--claims", "{w}/empty"], 2, "cannot read"),
    (["--claims", "{w}/array.json"], 2, "must hold a JSON object"),
    (["--claims", "{w}/duplicate.json"], 2, "duplicate member"),
    (["--claims", "{w}/nan.json"], 2, "NaN"),
    (["--claims", "{w}/ok.json", "--service", "nosuch"], 1, "unknown_service"),
    (["--claims", "{w}/ok.json", "--now", "garbage"], 2, "not a number of seconds"),
    (["--claims", "{w}/ok.json", "--now", "nan"], 2, "out of range"),
    (["--claims", "{w}/ok.json", "--now", "inf"], 2, "out of range"),
    (["--claims", "{w}/ok.json", "--now", "1e18"], 2, "out of range"),
    (["--claims", "{w}/ok.json", "--now=-1e300"], 2, "out of range"),
]


@pytest.mark.parametrize(("args", "code", "message"), EXPLAIN_CASES,
                         ids=[" ".join(c[0])[:40].replace("{w}/", "") for c in EXPLAIN_CASES])
def test_explain_bad_inputs(workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                            code: int, message: str) -> None:
    (workdir / "array.json").write_text("[1, 2]")
    (workdir / "duplicate.json").write_text('{"sub": "alice", "sub": "mallory"}')
    (workdir / "nan.json").write_text('{"sub": "alice", "exp": NaN}')
    argv = ["explain", str(workdir / "tokensmith.yaml"), "--service", "orders"]
    assert run(argv + [a.format(w=workdir) for a in args]) == code
    out = capsys.readouterr()
    assert message in out.out + out.err


def test_explain_binary_on_stdin(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff{}")))
    assert run(["explain", str(workdir / "tokensmith.yaml"), "--service", "orders",
                "--claims", "-"]) == 2
    assert "cannot read -: not UTF-8 text" in capsys.readouterr().err


# --- import statebacked -------------------------------------------------------------------------

IMPORT_CASES: list[tuple[str, int, str]] = [
    ('{"idps": "x"}', 2, 'expected {"idps": [...]}'),
    ('{"idps": [{}]}', 2, "idps[0]: has neither iss nor aud"),
    ('{"idps": [{"iss": 5, "algs": ["RS256"]}]}', 2, "iss must be a non-empty string"),
    ('{"idps": [{"iss": "https://a.example/", "algs": "RS256"}]}', 2, "algs must be"),
    ('{"idps": [{"iss": "https://a.example/", "algs": ["RS256"], "jwksUrl": '
     '"https://a.example/j", "mapping": {"x": NaN}}]}', 2, "NaN"),
    ('{"idps": [{"iss": "https://a.example/", "algs": ["RS256"], "jwksUrl": '
     '"https://a.example/j", "mapping": {"x": 1e400}}]}', 2, "number out of range"),
    ('{"idps": [], "idps": [{}]}', 2, "duplicate member"),
    ('{"idps":' + "[" * 100_000 + "]" * 100_000 + "}", 2, "nested too deeply"),
    ("{", 2, "not JSON"),
    ('{"idps": [{"iss": "https://a.example/", "algs": ["XX999"], "jwksUrl": '
     '"https://a.example/j"}]}', 0, "algorithms: [XX999]"),
    ('{"idps": []}', 0, "identity_providers: {}"),
]


@pytest.mark.parametrize(("idps", "code", "message"), IMPORT_CASES,
                         ids=[c[0][:30] for c in IMPORT_CASES])
def test_import_wrong_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str], idps: str,
                             code: int, message: str) -> None:
    (tmp_path / "idps.json").write_text(idps)
    assert run(["import", "statebacked", "--idps", str(tmp_path / "idps.json"),
                "--token-providers", TOKEN_PROVIDERS]) == code
    out = capsys.readouterr()
    assert message in out.out + out.err


@pytest.mark.parametrize(("where", "message"), [
    ("idps", "cannot read {p}: not UTF-8 text"),
    ("token-providers", "cannot read {p}: not UTF-8 text"),
])
def test_import_binary_input(workdir: Path, capsys: pytest.CaptureFixture[str], where: str,
                             message: str) -> None:
    files = {"idps": IDPS, "token-providers": TOKEN_PROVIDERS}
    files[where] = str(workdir / "binary.bin")
    assert run(["import", "statebacked", "--idps", files["idps"], "--token-providers",
                files["token-providers"]]) == 2
    assert message.format(p=workdir / "binary.bin") in capsys.readouterr().err


def test_import_keeps_characters_yaml_would_read_differently(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ruamel.yaml import YAML

    mapping = {"nel\u0085key": "a\u0085b", "ls": "c\u2028d\u2029e", "bom": "\ufefff",
               "c1": "\x9b\x7f", "plain": "café ☃"}
    providers = {"tokenProviders": [{"service": "svc", "keyId": "k", "mapping": mapping}]}
    (tmp_path / "tp.json").write_text(json.dumps(providers))
    (tmp_path / "idps.json").write_text('{"idps": []}')
    assert run(["import", "statebacked", "--idps", str(tmp_path / "idps.json"),
                "--token-providers", str(tmp_path / "tp.json")]) == 0
    text = capsys.readouterr().out
    assert "café ☃" in text
    assert YAML(typ="safe").load(text)["token_providers"]["svc"]["mapping"] == mapping


def test_import_duplicate_services_and_missing_files(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    twice = {"tokenProviders": [{"service": "a", "keyId": "k"}, {"service": "a", "keyId": "k"}]}
    (tmp_path / "tp.json").write_text(json.dumps(twice))
    assert run(["import", "statebacked", "--idps", IDPS, "--token-providers",
                str(tmp_path / "tp.json")]) == 2
    assert "service 'a' is listed twice" in capsys.readouterr().err
    assert run(["import", "statebacked", "--idps", str(tmp_path / "no.json"),
                "--token-providers", TOKEN_PROVIDERS]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_import_output_that_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["import", "statebacked", "--idps", IDPS, "--token-providers", TOKEN_PROVIDERS, "-o"]
    (tmp_path / "a-file").write_text("keep me")
    assert run([*base, str(tmp_path / "a-file")]) == 2
    assert f"{tmp_path / 'a-file'} exists and is not a directory" in capsys.readouterr().err
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert run([*base, str(tmp_path / "out")]) in (0, 1)
    capsys.readouterr()
    assert run([*base, str(tmp_path / "out")]) == 2
    assert "exists; not overwriting it" in capsys.readouterr().err


# --- vault --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_vault_bad_keys_and_inputs_never_echo_the_secret() -> None:
    key = cli("vault", "keygen").stdout.strip()
    marker = "hunter2-VAULT-MARKER"
    for env, stdin, code, message in [
        ({}, marker.encode(), 2, "is not set"),
        ({"TOKENSMITH_VAULT_KEY": marker}, marker.encode(), 2, "not a tokensmith vault key"),
        ({"TOKENSMITH_VAULT_KEY": key[:20]}, marker.encode(), 2, "damaged"),
        ({"TOKENSMITH_VAULT_KEY": key}, b"", 2, "empty"),
        ({"TOKENSMITH_VAULT_KEY": key}, b"\xff\x00" + marker.encode(), 0, "tsv1:"),
    ]:
        environment = {k: v for k, v in os.environ.items() if k != "TOKENSMITH_VAULT_KEY"}
        done = subprocess.run([sys.executable, "-m", "tokensmith", "vault", "encrypt"],
                              input=stdin, capture_output=True, timeout=60,
                              env={**environment, **env})
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        assert done.returncode == code, output
        assert message in output and marker not in output and "Traceback" not in output


# --- the real entry point: what used to end in a traceback ---------------------------------------

@pytest.mark.slow
def test_former_tracebacks_through_the_real_entry_point(workdir: Path) -> None:
    config = str(workdir / "tokensmith.yaml")
    (workdir / "nan-idps.json").write_text('{"idps": [{"iss": "https://a.example/", '
                                           '"algs": ["RS256"], "mapping": {"x": NaN}}]}')
    for args, code in [
        (["explain", config, "--service", "orders", "--claims", str(workdir / "ok.json"),
          "--now", "inf"], 2),
        (["explain", config, "--service", "orders", "--claims", str(workdir / "binary.bin")], 2),
        (["test", config, "--now", "1" + "0" * 400], 2),
        (["import", "statebacked", "--idps", str(workdir / "nan-idps.json"),
          "--token-providers", TOKEN_PROVIDERS], 2),
    ]:
        done = cli(*args)
        assert done.returncode == code, done.stderr
        assert done.stderr.startswith(("tokensmith", "usage:")), done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["vault", "encrypt"],
    ["explain", "{w}/tokensmith.yaml", "--service", "orders", "--token", "-"],
    ["explain", "{w}/tokensmith.yaml", "--service", "orders", "--claims", "-"],
], ids=["vault-encrypt", "explain-token", "explain-claims"])
def test_a_closed_standard_input_is_an_io_error(workdir: Path, args: list[str]) -> None:
    key = cli("vault", "keygen").stdout.strip()
    argv = [a.format(w=workdir) for a in args]
    done = subprocess.run(["sh", "-c", 'exec "$0" -m tokensmith "$@" <&-', sys.executable,
                           *argv], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TOKENSMITH_VAULT_KEY": key})
    assert done.returncode == 2, done.stderr
    assert "standard input is closed" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_an_io_error() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "tokensmith", "schema"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("verb", [
    ["check"], ["compile"], ["serve"], ["test"], ["explain"], ["diff"], ["schema"], ["demo"],
    ["vault"], ["vault", "keygen"], ["vault", "encrypt"], ["import"], ["import", "statebacked"],
])
def test_every_help(verb: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*verb, "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: tokensmith " + " ".join(verb))
