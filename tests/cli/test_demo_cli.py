"""`tokensmith demo` end to end, as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tokensmith.commands.demo import QUICKSTART_YAML

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_exchanges_a_token_and_stops_its_server() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tokensmith", "demo"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "HTTP 200" in out
    assert '"token_type": "Bearer"' in out
    assert '"kid": "quickstart_key"' in out
    assert '"aud": "my-service"' in out
    assert '"sub": "user-1"' in out and '"email": "ada@example.com"' in out
    # the issued token is capped by the subject token's exp, and the demo says why
    issued = re.search(r'"expires_in": (\d+)', out)
    assert issued is not None and 290 <= int(issued.group(1)) <= 300
    why = " ".join(out.split("HTTP 200", 1)[1].split())
    assert (f"expires_in is {issued.group(1)}, not the 900 s (15m) that `my-service` sets: an "
            "issued token never outlives its subject token, and this one expires 300 s after it "
            "was minted. A token provider that sets `outlive_subject_token: true` issues its "
            "full `expires_in` instead.") in why
    subject_exp, issued_exp = re.findall(r'"exp": (\d+)', out)
    assert subject_exp == issued_exp
    port = re.search(r"--port (\d+)", out)
    assert port is not None
    try:
        httpx.get(f"http://127.0.0.1:{port.group(1)}/healthz", timeout=1)
        still_up = True
    except httpx.TransportError:
        still_up = False
    assert not still_up, "the demo left its server running"


def test_embedded_quickstart_is_the_repository_example() -> None:
    example = REPO / "examples" / "quickstart" / "tokensmith.yaml"
    assert example.read_text(encoding="utf-8") == QUICKSTART_YAML
