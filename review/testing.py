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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokensmith.runtime.bundle import Bundle
from tokensmith.runtime.idp_index import IdentityProviderIndex
from tokensmith.runtime.mapping_api import json_equal
from tokensmith.schema.location import Location, SourceMap
from tokensmith.schema.models import ConfigTest

from .outcome import NOW_RANGE, Outcome, effective_now, evaluate, prepare_index


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
        _lines(_pretty(expected)), _lines(_pretty(actual)),
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
    return ["issued claims:", *_lines(_pretty(claims))]


def _lines(text: str) -> list[str]:
    """The lines `json.dumps(indent=...)` wrote: split at its "\\n"s only, since a string
    value may hold other line breaks (U+2028, U+0085) that `str.splitlines` would cut at."""
    return text.split("\n")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
