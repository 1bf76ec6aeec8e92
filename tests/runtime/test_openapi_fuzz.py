"""schemathesis against a real `tokensmith serve`, driven by its own `/openapi.json`: every
operation, both body encodings of `POST /tokens`, positive and negative requests, and the checks
`not_a_server_error`, `status_code_conformance`, `content_type_conformance` and
`response_schema_conformance`; zero failures. `bench/api_fuzz.py` is the same run, longer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..support.bench_scripts import bench_module

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]


def test_schemathesis_finds_nothing_on_any_operation_in_either_encoding() -> None:
    fuzz = bench_module("api_fuzz")
    with fuzz.quickstart_server() as (url, good_token, _):
        report = fuzz.fuzz(url, good_token, examples=60, seconds=300)
    assert report.failures == []
    assert report.skipped == []
    statuses = report.statuses
    for encoding in ("application/x-www-form-urlencoded", "application/json"):
        positive = statuses[f"POST /tokens {encoding} positive"]
        assert positive[200] > 0 and positive[400] > 0, positive  # issued and refused
        assert set(statuses[f"POST /tokens {encoding} negative"]) <= {400, 413, 415}
    document = json.loads((ROOT / "runtime" / "openapi.json").read_bytes())
    documented = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }
    run = {label.split(" ")[0] + " " + label.split(" ")[1] for label in statuses}
    # schemathesis leaves out the operation serving the schema it was loaded from;
    # tests/runtime/test_openapi.py checks that one
    assert documented - run == {"GET /openapi.json"}
    assert report.requests > 200
