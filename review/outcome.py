"""One offline exchange of claims taken as verified: what `test` checks and `diff` compares.

The claims go through `runtime.exchange.decide`, exactly what `POST /tokens` runs after the
signature check. A token without `exp` gets one an hour after `now`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokensmith.runtime.bundle import Bundle
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import decide
from tokensmith.runtime.idp_index import IdentityProviderIndex, candidates, index_of
from tokensmith.runtime.issuing import RESERVED_CLAIMS

#: `exp` of a test token that has none: one hour after `now`.
DEFAULT_LIFETIME = 3600
TEST_JTI = "tokensmith-test"
#: The `now`s a case can be run at: 0001-01-01 to 9999-12-31 (UTC), the times that can be shown;
#: anything else is a typo, and past about 1e308 not even a number the exchange can compare.
NOW_RANGE = (-62_135_596_800, 253_402_300_799)


@dataclass(frozen=True)
class Outcome:
    """What an exchange of one case's claims did: issued claims, or the refusal."""

    identity_provider: str | None
    claims: Mapping[str, Any] | None  # the issued claims, registered ones included
    error: str | None = None
    reason: str | None = None
    description: str | None = None

    @property
    def issued(self) -> bool:
        return self.claims is not None

    @property
    def mapped_claims(self) -> dict[str, Any]:
        """The issued claims minus the registered ones: what `expect.claims` compares."""
        return {k: v for k, v in (self.claims or {}).items() if k not in RESERVED_CLAIMS}

    def summary(self) -> str:
        if self.claims is not None:
            return f"issued by way of {self.identity_provider}"
        return f"refused: {self.error} ({self.reason}): {self.description}"


def prepare_index(bundle: Bundle) -> IdentityProviderIndex:
    """The identity provider index the runtime would build for `bundle`."""
    return index_of(bundle.config)


def effective_now(case_now: int | None, run_now: float | None) -> float:
    """The case's `now`, else the run's, else the clock; a case's `now` out of `NOW_RANGE` is
    brought into it (`testing.run_case` reports such a case instead of running it)."""
    if case_now is not None:
        return float(min(max(case_now, NOW_RANGE[0]), NOW_RANGE[1]))
    return time.time() if run_now is None else run_now


def evaluate(
    bundle: Bundle,
    index: IdentityProviderIndex,
    token: Mapping[str, Any],
    service: str,
    now: float,
) -> Outcome:
    """Exchange `token`'s claims (taken as verified) for `service` at `now`."""
    claims = dict(token)
    claims.setdefault("exp", int(now) + DEFAULT_LIFETIME)
    try:
        matched = candidates(index, claims)
    except ExchangeError:
        matched = frozenset()
    provider = next(iter(matched)) if len(matched) == 1 else None
    try:
        decision = decide(bundle, index, claims, service, now, lambda: TEST_JTI)
    except ExchangeError as exc:
        return Outcome(provider, None, exc.error, exc.reason, exc.description)
    return Outcome(decision.identity_provider, dict(decision.claims))
