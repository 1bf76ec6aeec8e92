"""Running a config's `tests:` offline, through the runtime's own exchange decision.

A case's `token` is taken as the verified claims of a subject token (no signature, no keys):
`runtime.exchange.decide` then runs exactly what `POST /tokens` runs after the signature check
(provider match, times with leeway, `require`, the service's allow-list, both mappings, the
issued claims). Defaults: `exp` is one hour after `now` when the token has none; `now` is the
case's own `now`, else the one given to the run (`--now`), else the current time.

A case passes when everything its `expect` names agrees:
- `identity_provider`: the provider the token's `iss`/`aud` match;
- `claims`: the issued claims without the registered ones (`iss`, `aud`, `iat`, `exp`, `nbf`,
  `jti`, which come from the token provider and the clock) are exactly these;
- `claims_subset`: each given claim is there with this value; objects are compared by the keys
  given, recursively, and everything else (lists, scalars) exactly;
- `error`: the exchange is refused with this RFC 6749 code (`invalid_request`,
  `invalid_target`) or with this more specific reason (`expired`, `condition_failed`, ...).
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokensmith.runtime.bundle import Bundle, load_bundle_files
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import decide
from tokensmith.runtime.idp_index import IdentityProviderIndex, candidates, index_of
from tokensmith.runtime.issuing import RESERVED_CLAIMS
from tokensmith.runtime.mapping_api import json_equal
from tokensmith.schema.location import Location, SourceMap
from tokensmith.schema.models import ConfigTest

from .bundle import build_bundle
from .check import CheckResult, check_path

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


@dataclass(frozen=True)
class CaseResult:
    """One case run: its name, where it is written, the outcome and any mismatch."""

    name: str
    location: Location
    outcome: Outcome
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Prepared:
    """A checked config and, when it passed, the bundle it compiles to (loaded in memory)."""

    check: CheckResult
    bundle: Bundle | None


def prepare(path: str) -> Prepared:
    """Check the config at `path` and compile it in memory, as `compile` + `serve` would.

    Raises `ConfigReadError` when the path cannot be read.
    """
    result = check_path(path)
    if not result.ok:
        return Prepared(result, None)
    return Prepared(result, load_bundle_files(build_bundle(result), origin=path))


def prepare_index(bundle: Bundle) -> IdentityProviderIndex:
    """The identity provider index the runtime would build for `bundle`."""
    return index_of(bundle.config)


def effective_now(case_now: int | None, run_now: float | None) -> float:
    """The case's `now`, else the run's, else the clock; a case's `now` out of `NOW_RANGE` is
    brought into it (`run_case` reports such a case instead of running it)."""
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


def run_case(
    bundle: Bundle,
    index: IdentityProviderIndex,
    case: ConfigTest,
    location: Location,
    now: float | None = None,
) -> CaseResult:
    """Run one case and compare its outcome with its `expect`."""
    if case.now is not None and not NOW_RANGE[0] <= case.now <= NOW_RANGE[1]:
        problem = (f"now: {case.now} is out of range (seconds since 1970, within years "
                   "1 to 9999); the case was not run")
        outcome = Outcome(None, None, "not_run", "now_out_of_range", problem)
        return CaseResult(case.name, location, outcome, (problem,))
    outcome = evaluate(bundle, index, case.token, case.service, effective_now(case.now, now))
    return CaseResult(case.name, location, outcome, tuple(compare(case, outcome)))


def run_tests(
    bundle: Bundle,
    cases: Sequence[ConfigTest],
    source_map: SourceMap,
    pattern: str | None = None,
    now: float | None = None,
) -> list[CaseResult]:
    """Run every case whose name contains `pattern` (case-insensitive), in file order."""
    index = prepare_index(bundle)
    wanted = (pattern or "").lower()
    return [
        run_case(bundle, index, case, source_map.value(("tests", number)), now)
        for number, case in enumerate(cases)
        if wanted in case.name.lower()
    ]


def compare(case: ConfigTest, outcome: Outcome) -> list[str]:
    """Readable lines for each way `outcome` differs from `case.expect`; [] when it passes."""
    expect = case.expect
    if expect.error is not None:
        if outcome.issued:
            return [f"expected the error {expect.error}, but a token was issued by way of "
                    f"{outcome.identity_provider}", *_claims_block(outcome.mapped_claims)]
        if expect.error in (outcome.error, outcome.reason):
            return []
        return [f"expected the error {expect.error}, got {outcome.error} ({outcome.reason}): "
                f"{outcome.description}"]
    if not outcome.issued:
        return [f"expected a token, but the exchange was {outcome.summary()}"]
    problems: list[str] = []
    if expect.identity_provider not in (None, outcome.identity_provider):
        problems.append(f"expected the identity provider {expect.identity_provider}, "
                        f"matched {outcome.identity_provider}")
    actual = outcome.mapped_claims
    if expect.claims is not None and not json_equal(expect.claims, actual):
        problems += ["claims differ (- expected, + actual):", *claims_diff(expect.claims, actual)]
    if expect.claims_subset is not None and not subset_matches(expect.claims_subset, actual):
        shown = project(actual, expect.claims_subset)
        problems += ["claims_subset differs (- expected, + actual, only the keys given):",
                     *claims_diff(expect.claims_subset, shown)]
    return problems


def subset_matches(expected: Any, actual: Any) -> bool:
    """Objects: every expected key present and matching, recursively; anything else equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and subset_matches(value, actual[key]) for key, value in expected.items()
        )
    return json_equal(expected, actual)


def project(actual: Any, shape: Any) -> Any:
    """`actual` restricted to the object keys `shape` has, for a diff that shows only them."""
    if isinstance(shape, dict) and isinstance(actual, dict):
        return {k: project(actual[k], v) for k, v in shape.items() if k in actual}
    return actual


def claims_diff(expected: Any, actual: Any) -> list[str]:
    """A unified diff of the two claim sets as indented, key-sorted JSON."""
    lines = difflib.unified_diff(
        _pretty(expected).splitlines(), _pretty(actual).splitlines(),
        "expected", "actual", lineterm="", n=2,
    )
    out: list[str] = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if out:  # between two hunks: some equal lines were skipped
                out.append("   ...")
            continue
        out.append(line)
    return out


def _claims_block(claims: Mapping[str, Any]) -> list[str]:
    return ["issued claims:", *_pretty(claims).splitlines()]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
