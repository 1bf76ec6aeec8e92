"""The 60 s version of `bench/soak.py`: mixed traffic at 80 % of the measured peak through a
JWKS key rotation and a JWKS outage (503s, then a hanging server), against a real `serve`."""

from __future__ import annotations

import pytest

from ..support.bench_scripts import bench_module

pytestmark = pytest.mark.slow



def test_a_minute_of_soak_through_rotation_and_outage_fails_no_good_exchange() -> None:
    report = bench_module("soak").run(60, 4)
    before, outage, after = report["phases"]
    assert report["good_exchanges_failed"] == 0, report
    for phase in (before, outage, after):
        requests = phase["requests"]
        # both identity providers kept issuing, RS256 through rotation and outage alike
        assert requests["good_hs"].get(200, 0) > 0 and requests["good_rs"].get(200, 0) > 0
        for kind in ("bad_token", "unknown_service"):
            assert set(requests[kind]) == {400}, (phase["phase"], requests[kind])
        # flat memory: within 10 % from the start to the end of each phase
        assert phase["rss_kib_end"] <= 1.1 * phase["rss_kib_start"], phase
    assert before["jwks_fetches"].get("up", 0) >= 1  # the rotation was fetched
    assert set(outage["jwks_fetches"]) <= {"down", "hang"}
    # the key published during the outage: answered 503 while the server was down (the key
    # may exist; never a 400 blaming a good token), and issued once it is back
    assert set(outage["requests"]["probe_new_key"]) == {503}, outage["requests"]
    assert set(after["requests"]["probe_new_key"]) <= {200, 503}, after["requests"]
    assert after["requests"]["probe_new_key"].get(200, 0) > 0
    assert report["probes_refused_400"] == 0
