"""Per-provider state of the JWKS cache and the `KeySource` that answers from it.

Each identity provider has its own state (snapshot, in-flight fetch, cooldown, backoff,
counters), so one provider's outage or flood never touches another's. The state is changed only
from the event loop; `candidates` only reads it, so it never blocks and never awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ._jwks_policy import JwksPolicy
from .errors import KeyIdPending, KeysNotReady, UnknownKeyId
from .keys import VerificationKey
from .model import IdentityProviderSpec

# At most this many key ids remembered as "looked for by a refetch and not found" per provider
# (a flood of random kids sharing one refetch); past it a kid reads as pending (503), never 400.
MAX_ABSENT_KIDS = 4096


@dataclass(frozen=True)
class Snapshot:
    """The keys of one successful fetch; replaced whole, never patched."""

    keys: tuple[VerificationKey, ...]
    by_kid: Mapping[str, tuple[VerificationKey, ...]]
    fetched_at: float
    expires_at: float

    @classmethod
    def of(cls, keys: tuple[VerificationKey, ...], fetched_at: float, ttl: float) -> Snapshot:
        by_kid: dict[str, list[VerificationKey]] = {}
        for key in keys:
            if key.kid is not None:
                # A duplicate kid keeps every key: candidates tries each, never first-wins.
                by_kid.setdefault(key.kid, []).append(key)
        frozen = {kid: tuple(same) for kid, same in by_kid.items()}
        return cls(keys, MappingProxyType(frozen), fetched_at, fetched_at + ttl)


class ProviderState:
    """The mutable state of one identity provider's remote keys."""

    def __init__(self, spec: IdentityProviderSpec, policy: JwksPolicy) -> None:
        self.spec = spec
        self.policy = policy
        self.snapshot: Snapshot | None = None
        self.inflight: asyncio.Task[None] | None = None
        self.inflight_for_kid = False
        self.cooldown_until = -math.inf
        self.next_attempt_at = -math.inf
        self.refresh_due = -math.inf
        self.failures = 0
        self.last_error: str | None = None
        self.fetches: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.logged_drops: set[tuple[str | None, str]] = set()
        self.unknown_kid_refetches = 0
        # kids a successful refetch, started or joined for them, did not find; emptied by every
        # new snapshot. Only these are refused (400) while the cooldown runs: any other unknown
        # kid may be newer than the snapshot and is answered 503 until a refetch may decide it.
        self.absent_kids: set[str] = set()
        self._changed = asyncio.Event()

    @property
    def name(self) -> str:
        return self.spec.name

    def usable(self, now: float) -> bool:
        """True while the snapshot exists and is not older than its TTL plus `max_stale`."""
        snapshot = self.snapshot
        return snapshot is not None and now < snapshot.expires_at + self.policy.max_stale

    def may_refetch(self, now: float) -> bool:
        """True when an unknown `kid` may (still) be learnt by a refetch right now."""
        if self.inflight is not None and self.inflight_for_kid:
            return True  # concurrent callers share the refetch under way
        return now >= self.cooldown_until and now >= self.next_attempt_at

    def candidates(self, kid: str | None, alg: str, now: float) -> Sequence[VerificationKey]:
        snapshot = self.snapshot
        if snapshot is None or not self.usable(now):
            raise KeysNotReady(self.name)
        if kid is None:
            # A kid-less token may only be tried against a few keys, never against hundreds.
            fits = [key for key in snapshot.keys if alg in key.algorithms]
            return fits if len(fits) <= self.policy.max_kidless_candidates else []
        same_kid = snapshot.by_kid.get(kid)
        if same_kid is None:
            if self.may_refetch(now):
                raise UnknownKeyId(self.name, kid)
            if self.failures:
                # the last fetch failed: the kid may be published where we cannot see it now,
                # so it cannot be decided (503, retry later), never a 400 blaming a good token
                raise KeysNotReady(self.name)
            if kid in self.absent_kids:
                return []  # a refetch since this kid was first seen did not find it: refused
            # cooling down: the kid may be newer than the snapshot; fail fast, never queue
            raise KeyIdPending(self.name, max(1, math.ceil(self.cooldown_until - now)))
        return [key for key in same_kid if alg in key.algorithms]

    def note_absent(self, kid: str) -> None:
        """Remember `kid` as not found by the fetch that just ended, if that fetch succeeded."""
        snapshot = self.snapshot
        if (self.last_error is None and snapshot is not None and kid not in snapshot.by_kid
                and len(self.absent_kids) < MAX_ABSENT_KIDS):
            self.absent_kids.add(kid)

    def notify(self) -> None:
        """Wake everyone waiting for this provider's state to change (a fetch ended)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, timeout: float) -> None:
        """Return when the next fetch of this provider ends, or after `timeout` seconds."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await changed.wait()


class RemoteKeySource:
    """The `KeySource` of one remote identity provider, answering from its current snapshot.

    `candidates` raises `KeysNotReady` when the provider has no usable keys (none yet, or older
    than the staleness bound), `UnknownKeyId` for an unknown `kid` when a refetch may learn it,
    `KeysNotReady` again for an unknown `kid` while the provider's last fetch failed (an outage:
    the key may exist), and during the refetch cooldown returns an empty list for a `kid` that a
    refetch looked for and did not find, `KeyIdPending` (503, fail fast) for any other.
    """

    def __init__(self, state: ProviderState, clock: Callable[[], float]) -> None:
        self._state = state
        self._clock = clock

    def candidates(self, kid: str | None, alg: str) -> Sequence[VerificationKey]:
        return self._state.candidates(kid, alg, self._clock())

    def signature_failed(self, kid: str) -> None:
        # The same cooldown as an unknown kid: a flood of bad signatures under a known kid
        # causes no more fetches than a flood of random kids (C14, C15).
        if self._state.may_refetch(self._clock()):
            raise UnknownKeyId(self._state.name, kid)
