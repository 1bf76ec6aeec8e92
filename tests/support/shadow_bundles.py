"""Live and candidate bundles for the shadow tests, hand-built as `http_server` builds its own.

`candidate_config(world, change)` is the world's config with one change a reviewer might make;
`write_with_mappings` writes a bundle whose `mappings.py` is given (a faulty candidate).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from tokensmith.runtime.bundle import revision_of
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import ExchangeRequest, Issued, exchange
from tokensmith.runtime.jti import new_jti
from tokensmith.runtime.shadow import Attempt
from tokensmith.runtime.startup import Runtime

from .http_server import World, bundle_files, idp

PARTNER_ISSUER = "https://partner.example.com/"

#: Mappings of a candidate that accepts every verified token and maps nothing.
ACCEPT_ALL = """\
def _always(claims, context):
    return True


def _nothing(claims, context):
    return {}


IDENTITY_PROVIDER_MAPPINGS = {name: _nothing for name in IDPS}
IDENTITY_PROVIDER_REQUIREMENTS = {name: _always for name in REQUIRE}
TOKEN_PROVIDER_MAPPINGS = {name: _nothing for name in SERVICES}
"""

#: Mappings of a candidate that refuses every token: no requirement holds, no mapping maps.
REFUSE_ALL = """\
def _never(claims, context):
    return False


def _not_an_object(claims, context):
    return None


IDENTITY_PROVIDER_MAPPINGS = {name: _not_an_object for name in IDPS}
IDENTITY_PROVIDER_REQUIREMENTS = {name: _never for name in REQUIRE}
TOKEN_PROVIDER_MAPPINGS = {name: _not_an_object for name in SERVICES}
"""

#: Mappings of a candidate that raises out of `exchange()` itself: its mapping output is a dict
#: whose copy fails, past the mapping step's own guard.
RAISING = """\
def _always(claims, context):
    return True


class _Exploding(dict):
    def keys(self):
        raise RuntimeError("the candidate is broken")

    def __iter__(self):
        raise RuntimeError("the candidate is broken")


def _explode(claims, context):
    return _Exploding(sub="x")


IDENTITY_PROVIDER_MAPPINGS = {name: _explode for name in IDPS}
IDENTITY_PROVIDER_REQUIREMENTS = {name: _always for name in REQUIRE}
TOKEN_PROVIDER_MAPPINGS = {name: _explode for name in SERVICES}
"""

#: Mappings of a candidate that keeps only `sub`.
SUB_ONLY = """\
def _always(claims, context):
    return True


def _sub(claims, context):
    return {"sub": claims["sub"]}


IDENTITY_PROVIDER_MAPPINGS = {name: _sub for name in IDPS}
IDENTITY_PROVIDER_REQUIREMENTS = {name: _always for name in REQUIRE}
TOKEN_PROVIDER_MAPPINGS = {name: _sub for name in SERVICES}
"""

#: Mappings of the live bundle's, but taking 50 ms each (blocking the loop, as a slow candidate
#: would).
SLOW = """\
import time


def _always(claims, context):
    return True


def _slow(claims, context):
    time.sleep(0.05)
    return {k: claims[k] for k in ("sub", "email", "role") if k in claims}


IDENTITY_PROVIDER_MAPPINGS = {name: _slow for name in IDPS}
IDENTITY_PROVIDER_REQUIREMENTS = {name: _always for name in REQUIRE}
TOKEN_PROVIDER_MAPPINGS = {name: _slow for name in SERVICES}
"""


def candidate_config(world: World, change: str) -> dict[str, Any]:
    """The world's config with one change: `tightened` (the quickstart provider requires
    `email_verified`), `new_idp` (a partner provider, secret `PARTNER_SECRET`), `aud` (the
    quickstart provider expects another audience), `same` (no change)."""
    config = copy.deepcopy(world.config)
    quickstart = config["identity_providers"]["quickstart"]
    if change == "tightened":
        quickstart["has_require"] = True
    elif change == "new_idp":
        config["identity_providers"]["partner"] = idp(
            issuer=PARTNER_ISSUER, audience="partner-aud", algorithms=["HS256"],
            secret_env="PARTNER_SECRET",
        )
    elif change == "aud":
        quickstart["audience"] = "another-audience"
    elif change != "same":
        raise ValueError(change)
    return config


def write_with_mappings(directory: Path, config: dict[str, Any], mappings: str) -> Path:
    """A bundle for `config` whose mappings.py is `mappings` (after the IDPS/SERVICES lists)."""
    files = bundle_files(config)
    head = files["mappings.py"].decode().split("\n\n", 1)[0]
    content = {"config.json": files["config.json"], "mappings.py": f"{head}\n\n{mappings}".encode()}
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in content.items()}
    manifest = {
        "format": "tokensmith-bundle/1",
        "compiler": "tokensmith tests",
        "revision": revision_of(hashes),
        "files": {n: {"sha256": hashes[n], "size": len(d)} for n, d in content.items()},
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in {**content, "manifest.json": json.dumps(manifest).encode()}.items():
        (directory / name).write_bytes(data)
    return directory


def live_attempt(runtime: Runtime, token: str, service: str = "my-service") -> Attempt:
    """A sampled request decided by `runtime`'s live exchange, as the app would note it."""
    attempt = Attempt(ExchangeRequest(token, service))
    attempt.now = now = time.time()
    live: Issued | Exception
    try:
        live = exchange(runtime.state, attempt.request, now, new_jti, attempt.parse)
    except ExchangeError as exc:
        live = exc
    attempt.live = live
    return attempt
