"""Security review 2026-11-29: provider matching with tokensmith's own issuers (finding 1)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.runtime.test_idp_index import spec
from tokensmith.runtime.errors import BundleError
from tokensmith.runtime.idp_index import build_index, candidates, provider_matches

NAMES = st.sampled_from(["i1", "i2", "a1", "a2", "own"])



@given(
    layout=st.dictionaries(
        st.text("pqr", min_size=1, max_size=3),
        st.tuples(st.one_of(st.none(), NAMES), st.one_of(st.none(), NAMES)),
        max_size=8,
    ),
    own=st.frozensets(NAMES, max_size=2),
    iss=st.one_of(st.none(), NAMES),
    aud=st.lists(NAMES, min_size=1, max_size=4),
)
def test_a_token_claiming_an_own_issuer_matches_no_provider_whatever_the_layout(
    layout: dict[str, tuple[str | None, str | None]],
    own: frozenset[str],
    iss: str | None,
    aud: list[str],
) -> None:
    providers = {n: spec(n, i, a) for n, (i, a) in layout.items() if i is not None or a is not None}
    try:
        index = build_index(providers, own)
    except BundleError:
        return  # two providers with the same key: refused before any token arrives
    claims: dict[str, Any] = {"aud": aud} if iss is None else {"iss": iss, "aud": aud}
    if iss is not None and iss in own:
        expected: set[str] = set()
    else:
        expected = {n for n, s in providers.items() if provider_matches(s, iss, tuple(aud))}
    assert candidates(index, claims) == expected
