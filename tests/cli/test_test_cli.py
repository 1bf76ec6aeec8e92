"""`tokensmith test`: config tests run offline through the exchange, via the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tokensmith.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/tokensmith.yaml"))
NOW = 1_767_225_600

CONFIG = """\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k: {algorithm: HS256, secret: {env: K}}
identity_providers:
  auth0:
    issuer: https://acme.us.auth0.com/
    audience: https://api.example.com/
    jwks_url: https://acme.us.auth0.com/.well-known/jwks.json
    algorithms: [RS256]
    leeway: 30
    require: {$.email_verified: true}
    mapping: {sub.$: $.sub, email.$: $.email, roles.$: $.roles}
token_providers:
  orders:
    signing_key: k
    expires_in: 10m
    mapping: {sub.$: $.sub, email.$: $.email, profile: {roles.$: $.roles, tier: gold}}
tests:
"""
TOKEN = ("{iss: https://acme.us.auth0.com/, aud: https://api.example.com/, sub: u1, "
         "email: a@b.c, email_verified: true, roles: [admin, dev]}")


def write(tmp_path: Path, *cases: str) -> str:
    path = tmp_path / "tokensmith.yaml"
    path.write_text(CONFIG + "".join(cases))
    return str(path)


def case(name: str, expect: str, token: str = TOKEN, extra: str = "") -> str:
    return (f"  - name: {name}\n    service: orders\n    token: {token}\n"
            f"    expect: {expect}\n{extra}")


EXACT = "{identity_provider: auth0, claims: {act: {sub: u1, email: a@b.c, profile: {roles: [admin, dev], tier: gold}}}}"


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_passes(example: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tokensmith", "test", str(example)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    passed = int(last.split()[0])
    assert last == f"{passed} passed, 0 failed" and passed >= 2


def test_exact_claims_subset_and_errors_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        case("exact claims", EXACT),
        case("a subset", "{claims_subset: {act: {profile: {tier: gold}}}}"),
        case("unknown service", "{error: invalid_target}").replace("service: orders",
                                                                   "service: orderz"),
        case("unverified email", "{error: invalid_request}",
             TOKEN.replace("email_verified: true", "email_verified: false")),
        case("reason code", "{error: condition_failed}",
             TOKEN.replace("email_verified: true", "email_verified: false")),
    )
    code = main(["test", path, "--now", str(NOW)])
    out = capsys.readouterr()
    # the unknown service is a check finding (E360): the config fails check, nothing runs
    assert code == 1
    assert "E360" in out.err and "no test was run" in out.err
    path = write(tmp_path, *[c for c in (
        case("exact claims", EXACT),
        case("a subset", "{claims_subset: {act: {profile: {tier: gold}}}}"),
        case("unverified email", "{error: invalid_request}",
             TOKEN.replace("email_verified: true", "email_verified: false")),
        case("reason code", "{error: condition_failed}",
             TOKEN.replace("email_verified: true", "email_verified: false")),
    )])
    assert main(["test", path, "--now", str(NOW)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["PASS exact claims", "PASS a subset", "PASS unverified email",
                     "PASS reason code", "4 passed, 0 failed"]


def test_a_failure_shows_the_location_and_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = EXACT.replace("tier: gold", "tier: silver")
    path = write(tmp_path, case("passes", EXACT), case("wrong tier", wrong))
    assert main(["test", path, "--now", str(NOW)]) == 1
    out = capsys.readouterr().out
    assert out.endswith("1 passed, 1 failed\n")
    failure = out.split("FAIL wrong tier\n")[1]
    assert failure.startswith(f"  {path}:24:5\n")  # the `- name:` line of the second case
    assert '-      "tier": "silver"' in failure
    assert '+      "tier": "gold"' in failure


def test_missing_subset_key_and_extra_claim_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        case("subset wants a missing key", "{claims_subset: {act: {nickname: u}}}"),
        case("exact is exact", "{claims: {act: {sub: u1}}}"),
        case("error expected", "{error: invalid_request}"),
        case("wrong provider", "{identity_provider: other}"),
    )
    assert main(["test", path, "--now", str(NOW)]) == 1
    out = capsys.readouterr()
    combined = out.out + out.err
    # `identity_provider: other` is refused by check (E361) before any case runs
    assert "E361" in combined
    path = write(
        tmp_path,
        case("subset wants a missing key", "{claims_subset: {act: {nickname: u}}}"),
        case("exact is exact", "{claims: {act: {sub: u1}}}"),
        case("error expected", "{error: invalid_request}"),
    )
    assert main(["test", path, "--now", str(NOW)]) == 1
    out_text = capsys.readouterr().out
    assert out_text.endswith("0 passed, 3 failed\n")
    assert '-    "nickname": "u"' in out_text
    assert '+    "email": "a@b.c",' in out_text
    assert "expected the error invalid_request, but a token was issued by way of auth0" in out_text


def test_exp_defaults_to_an_hour_and_now_can_be_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = TOKEN.replace("roles: [admin, dev]", f"roles: [a], exp: {NOW - 31}")
    early = TOKEN.replace("roles: [admin, dev]", f"roles: [a], nbf: {NOW + 31}")
    early_within_leeway = TOKEN.replace("roles: [admin, dev]", f"roles: [a], nbf: {NOW + 29}")
    path = write(
        tmp_path,
        case("no exp is fine", "{claims_subset: {act: {sub: u1}}}"),
        case("expired beyond the leeway", "{error: expired}", expired),
        case("not yet valid", "{error: not_yet_valid}", early),
        case("nbf within the leeway", "{claims_subset: {act: {sub: u1}}}", early_within_leeway),
        case("own now", "{error: expired}", TOKEN.replace("roles: [admin, dev]",
                                                         f"exp: {NOW + 100}"),
             extra=f"    now: {NOW + 200}\n"),
    )
    assert main(["test", path, "--now", str(NOW)]) == 0, capsys.readouterr().out


def test_k_selects_cases_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, case("Alpha one", EXACT), case("beta", "{claims: {}}"))
    assert main(["test", path, "-k", "alpha", "--now", str(NOW)]) == 0
    assert capsys.readouterr().out.splitlines() == ["PASS Alpha one", "1 passed, 0 failed"]


def test_json_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, case("good", EXACT), case("bad", "{claims: {}}"))
    assert main(["test", path, "--format", "json", "--now", str(NOW)]) == 1
    out = capsys.readouterr()
    document = json.loads(out.out)
    assert (document["passed"], document["failed"]) == (1, 1)
    assert document["tests"][0]["claims"]["act"]["profile"]["tier"] == "gold"
    assert out.err.strip() == "1 passed, 1 failed"
    assert main(["test", path, "--format", "junit", "--now", str(NOW)]) == 1
    root = ElementTree.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites" and root.get("failures") == "1"
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["good", "bad"]
    assert cases[0].find("failure") is None and cases[1].find("failure") is not None


def test_unreadable_config_exits_2(tmp_path: Path) -> None:
    assert main(["test", str(tmp_path / "missing.yaml")]) == 2


def test_cases_expect_a_service_condition_to_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a service's `require` reads the intermediate claims; its failure is invalid_target
    config = CONFIG.replace("    expires_in: 10m\n",
                            "    expires_in: 10m\n    require: {$.roles: {contains: billing}}\n")
    path = tmp_path / "tokensmith.yaml"
    path.write_text(config + "".join((
        case("no billing role", "{error: condition_failed}"),
        case("no billing role, by its RFC code", "{error: invalid_target}"),
        case("not invalid_request", "{error: invalid_request}"),
        case("a billing role", "{identity_provider: auth0}",
             TOKEN.replace("roles: [admin, dev]", "roles: [admin, billing]")),
    )))
    assert main(["test", str(path), "--now", str(NOW)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith(("PASS", "FAIL"))] == [
        "PASS no billing role", "PASS no billing role, by its RFC code",
        "FAIL not invalid_request", "PASS a billing role"]
    assert lines[-1] == "3 passed, 1 failed"
