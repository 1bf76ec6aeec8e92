"""Schema-driven fuzzing of a real `tokensmith serve` with schemathesis and `/openapi.json`.

Compiles `examples/quickstart`, serves it with fresh secrets on a free 127.0.0.1 port (stopped by
its PID at the end), loads the server's own `/openapi.json`, and for every documented operation
(both body encodings of `POST /tokens`, each on its own) generates requests, positive and, where
there is a body or a parameter to spoil, negative, checking each answer with schemathesis's `not_a_server_error`,
`status_code_conformance`, `content_type_conformance` and `response_schema_conformance`. A
share of the positive `POST /tokens` bodies gets a fresh valid subject token for `my-service`,
so the documented success answer is checked too, not only refusals.

    python bench/api_fuzz.py [--examples 500] [--seconds 600]

`--examples` is hypothesis's budget per (operation, encoding, mode); `--seconds` bounds the whole
run (operations not reached in time are reported as such). Prints one JSON report: operations
run, requests sent, the status histogram per operation, and every failure (there should be none).
tests/runtime/test_openapi_fuzz.py runs a short version in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import hypothesis
import jwt
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import compiled_server

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Report:
    """What one run saw: requests and statuses per operation, and every failure."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "operations": len(self.statuses),
            "statuses": {k: dict(sorted(v.items())) for k, v in sorted(self.statuses.items())},
            "failures": self.failures,
            "not_reached_in_time": self.skipped,
        }


def fuzz(url: str, good_token: Callable[[], str], *, examples: int, seconds: float) -> Report:
    """Run schemathesis against the server at `url` (see the module docstring)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.update(base_url=url)
    report = Report()
    started = time.monotonic()
    deadline = started + seconds
    with httpx.Client(timeout=15) as warmup:  # fail early, with a clear message, if not serving
        warmup.get(f"{url}/healthz").raise_for_status()
    for result in schema.get_all_operations():
        operation = result.ok()
        media_types = [body.media_type for body in operation.body] or [None]
        modes = [GenerationMode.POSITIVE]
        if media_types != [None] or list(operation.iter_parameters()):
            modes.append(GenerationMode.NEGATIVE)  # there is something to make invalid
        for media_type in media_types:
            for mode in modes:
                label = f"{operation.label} {media_type or ''} {mode.value}".replace("  ", " ")
                if time.monotonic() > deadline:
                    report.skipped.append(label)
                    continue
                strategy = operation.as_strategy(mode, media_type=media_type)
                _run(strategy, label, good_token, examples, report)
    report.seconds = time.monotonic() - started
    return report


def _run(strategy: Any, label: str, good_token: Callable[[], str], examples: int,
         report: Report) -> None:
    counts = report.statuses.setdefault(label, Counter())
    exchange = label.startswith("POST /tokens") and label.endswith("positive")

    @hypothesis.settings(
        max_examples=examples, deadline=None, database=None, derandomize=False,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.generate],  # every case is reported, none shrunk away
    )
    @hypothesis.given(case=strategy, substitute=st.booleans())
    def one(case: Any, substitute: bool) -> None:
        if exchange and substitute and isinstance(case.body, dict):
            case.body = {**case.body, "subject_token": good_token(), "audience": "my-service"}
        try:
            response = case.call_and_validate(checks=CHECKS)
        except Exception as exc:  # a failed check or a transport error: both are findings
            report.failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:2000]}")
            return
        counts[response.status_code] += 1

    one()


class Served(NamedTuple):
    """A running server: its base URL, a factory of good subject tokens, its process id."""

    url: str
    good_token: Callable[[], str]
    pid: int


@contextlib.contextmanager
def quickstart_server() -> Iterator[Served]:
    """`tokensmith serve` of the compiled quickstart (bench/fuzz_http.py uses it too)."""
    env = {
        **os.environ,
        "QUICKSTART_IDP_SECRET": secrets.token_urlsafe(32),
        "TOKENSMITH_SIGNING_KEY": secrets.token_urlsafe(32),
    }
    with tempfile.TemporaryDirectory() as tmp, compiled_server(QUICKSTART, tmp, env) as served:
        url, server = served

        def good_token() -> str:
            now = int(time.time())
            claims = {"iss": "https://login.example.com/", "aud": "tokensmith-quickstart",
                      "sub": "user-7", "email": "ada@example.com", "iat": now, "exp": now + 300}
            return jwt.encode(claims, env["QUICKSTART_IDP_SECRET"], "HS256")

        yield Served(url, good_token, server.pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    with quickstart_server() as (url, good_token, _):
        report = fuzz(url, good_token, examples=args.examples, seconds=args.seconds)
        cli = cli_run(url, args.seconds)
    print(json.dumps({**report.as_json(), "schemathesis_cli": cli}, indent=2))
    return 1 if report.failures or cli["exit_status"] != 0 else 0


def cli_run(url: str, seconds: float) -> dict[str, Any]:
    """`schemathesis run` on the same server: its coverage phase adds boundary and malformed
    cases of its own to the fuzzing above (no good tokens there: refusals only)."""
    done = subprocess.run(
        ["schemathesis", "run", f"{url}/openapi.json", "--checks", ",".join(c.__name__ for c in CHECKS),
         "--phases", "coverage,fuzzing", "--max-time", str(max(1, int(seconds))), "--workers", "1",
         "--no-color"],
        capture_output=True, text=True, timeout=seconds + 300, check=False,
        cwd=tempfile.gettempdir(),
    )
    summary = [line.strip() for line in done.stdout.splitlines() if "generated" in line]
    return {"exit_status": done.returncode, "summary": summary[-1:] or done.stdout[-2000:]}


if __name__ == "__main__":
    sys.exit(main())
