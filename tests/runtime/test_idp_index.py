"""The identity provider index: byte-exact matching, ambiguity, constant-time lookups, and
tokensmith's own issuers matching no provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokensmith.runtime.errors import BundleError, InvalidRequest
from tokensmith.runtime.idp_index import (
    UNTRUSTED,
    IdentityProviderIndex,
    build_index,
    candidates,
    match_identity_provider,
    provider_matches,
)
from tokensmith.runtime.model import IdentityProviderSpec

IDP = "https://idp.example"


def spec(name: str, issuer: str | None, audience: str | None) -> IdentityProviderSpec:
    return IdentityProviderSpec(
        name=name,
        issuer=issuer,
        audience=audience,
        algorithms=("RS256",),
        leeway=60,
        jwks_url=None,
        discovery=False,
        allow_insecure_http=False,
        jwks=None,
        secret=None,
        has_require=False,
    )


PROVIDERS = {
    "pair": spec("pair", IDP, "svc"),
    "issuer-only": spec("issuer-only", "https://token.actions.githubusercontent.com", None),
    "aud-a": spec("aud-a", None, "svc-a"),
    "aud-b": spec("aud-b", None, "svc-b"),
}
INDEX = build_index(PROVIDERS)


def refused_reason(claims: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as info:
        match_identity_provider(INDEX, claims)
    assert info.value.description in (UNTRUSTED, "token claims are malformed")
    return info.value.reason


def test_each_kind_of_provider_matches() -> None:
    assert match_identity_provider(INDEX, {"iss": IDP, "aud": "svc"}) == "pair"
    assert match_identity_provider(INDEX, {"iss": IDP, "aud": ["x", "svc"]}) == "pair"
    gh = {"iss": "https://token.actions.githubusercontent.com", "aud": "anything"}
    assert match_identity_provider(INDEX, gh) == "issuer-only"
    assert match_identity_provider(INDEX, {"iss": "https://whoever", "aud": "svc-a"}) == "aud-a"
    assert match_identity_provider(INDEX, {"aud": "svc-b"}) == "aud-b"


def test_issuer_is_required_when_the_provider_has_one() -> None:  # B07
    assert refused_reason({"aud": "svc"}) == "untrusted_issuer"
    assert refused_reason({"aud": "anything"}) == "untrusted_issuer"


def test_audience_is_required_when_the_provider_has_one() -> None:  # B10, B13
    assert refused_reason({"iss": IDP}) == "untrusted_issuer"
    assert refused_reason({"iss": IDP, "aud": "other-svc"}) == "untrusted_issuer"


@pytest.mark.parametrize(
    "iss",
    [
        "https://idp",
        "https://idp.example/",
        "HTTPS://IDP.EXAMPLE",
        "https://idp.\u0435xample",  # Cyrillic e
        "https://idp.\uff45xample",  # fullwidth e
        "https://idp.example\u200b",
        "https://idp.example\u0000",
        " https://idp.example",
    ],
)
def test_issuer_look_alikes_do_not_match(iss: str) -> None:  # B08
    assert refused_reason({"iss": iss, "aud": "svc"}) == "untrusted_issuer"


def test_issuer_in_nfd_form_does_not_match() -> None:  # B08 NFD
    index = build_index({"cafe": spec("cafe", "https://caf\u00e9.example", "svc")})
    assert (
        match_identity_provider(index, {"iss": "https://caf\u00e9.example", "aud": "svc"}) == "cafe"
    )
    with pytest.raises(InvalidRequest):
        match_identity_provider(index, {"iss": "https://cafe\u0301.example", "aud": "svc"})


@pytest.mark.parametrize("aud", ["SVC", "svc/", " svc"])
def test_audience_look_alikes_do_not_match(aud: str) -> None:  # B12
    assert refused_reason({"iss": IDP, "aud": aud}) == "untrusted_issuer"


def test_audience_list_naming_two_providers_is_ambiguous() -> None:  # B24
    assert refused_reason({"aud": ["svc-a", "svc-b"]}) == "ambiguous"


def test_issuer_only_next_to_pair_of_same_issuer_is_ambiguous() -> None:  # B24, E07
    index = build_index({"any": spec("any", IDP, None), "api": spec("api", IDP, "api")})
    assert match_identity_provider(index, {"iss": IDP, "aud": "web"}) == "any"
    with pytest.raises(InvalidRequest) as info:
        match_identity_provider(index, {"iss": IDP, "aud": "api"})
    assert (info.value.description, info.value.reason) == (UNTRUSTED, "ambiguous")


def test_audience_list_with_ours_and_another_is_accepted() -> None:  # B11
    assert match_identity_provider(INDEX, {"iss": IDP, "aud": ["svc", "other"]}) == "pair"


@pytest.mark.parametrize("claims", [{"iss": [IDP], "aud": "svc"}, {"iss": 7, "aud": "svc"}])
def test_non_string_issuer_is_malformed(claims: dict[str, Any]) -> None:  # B09
    assert refused_reason(claims) == "malformed"


def test_same_key_twice_is_refused_when_building() -> None:  # E07
    with pytest.raises(BundleError, match="'a' and 'b'"):
        build_index({"a": spec("a", IDP, "svc"), "b": spec("b", IDP, "svc")})
    with pytest.raises(BundleError):
        build_index({"a": spec("a", IDP, None), "b": spec("b", IDP, None)})
    with pytest.raises(BundleError):
        build_index({"a": spec("a", None, "svc"), "b": spec("b", None, "svc")})


def test_provider_with_neither_issuer_nor_audience_is_refused() -> None:  # E05
    with pytest.raises(BundleError, match="neither issuer nor audience"):
        build_index({"open": spec("open", None, None)})


class CountingMapping(Mapping[Any, str]):
    """A read-only dict that counts every lookup made through it."""

    def __init__(self, data: Mapping[Any, str], counter: list[int]) -> None:
        self._data = dict(data)
        self._counter = counter

    def __getitem__(self, key: Any) -> str:
        self._counter[0] += 1
        value: str = self._data[key]
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        self._counter[0] += 1
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("matching must never iterate over providers")

    def __len__(self) -> int:
        raise AssertionError("matching must never count providers")


def test_matching_cost_does_not_grow_with_the_number_of_providers() -> None:
    """By construction: at most 1 + 2k lookups for k audiences, never a walk over providers."""
    providers = {}
    for i in range(10_000):
        kind = i % 3
        issuer = f"https://idp{i}.example" if kind != 2 else None
        audience = f"aud{i}" if kind != 1 else None
        providers[f"p{i}"] = spec(f"p{i}", issuer, audience)
    built = build_index(providers)
    counter = [0]
    index = IdentityProviderIndex(
        CountingMapping(built.by_pair, counter),
        CountingMapping(built.by_issuer, counter),
        CountingMapping(built.by_audience, counter),
    )
    assert (
        match_identity_provider(index, {"iss": "https://idp9999.example", "aud": "aud9999"})
        == "p9999"
    )
    assert counter[0] == 3
    counter[0] = 0
    audiences = [f"aud{i}" for i in range(16)]
    with pytest.raises(InvalidRequest):
        match_identity_provider(index, {"iss": "https://idp0.example", "aud": audiences})
    assert counter[0] == 1 + 2 * 16


names = st.sampled_from(["i1", "i2", "a1", "a2", "x"])


@pytest.mark.slow
@given(
    layout=st.dictionaries(
        st.text("pqr", min_size=1, max_size=3),
        st.tuples(st.one_of(st.none(), names), st.one_of(st.none(), names)),
        max_size=8,
    ),
    iss=st.one_of(st.none(), names),
    aud=st.lists(names, min_size=1, max_size=4),
)
def test_index_agrees_with_checking_every_provider(
    layout: dict[str, tuple[str | None, str | None]], iss: str | None, aud: list[str]
) -> None:
    providers = {n: spec(n, i, a) for n, (i, a) in layout.items() if i is not None or a is not None}
    try:
        index = build_index(providers)
    except BundleError:
        return  # two providers with the same key: refused before any token arrives
    claims: dict[str, Any] = {"aud": aud} if iss is None else {"iss": iss, "aud": aud}
    expected = {n for n, s in providers.items() if provider_matches(s, iss, tuple(aud))}
    assert candidates(index, claims) == expected


# ---- tokensmith's own issuers match no provider, whatever the layout -------------------------

NAMES = st.sampled_from(["i1", "i2", "a1", "a2", "own"])


@pytest.mark.slow
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


@pytest.mark.slow
@given(
    layout=st.dictionaries(
        st.text("pqr", min_size=1, max_size=3),
        st.tuples(st.one_of(st.none(), NAMES), st.one_of(st.none(), NAMES)),
        max_size=8,
    ),
    own=st.frozensets(NAMES, max_size=2),
    iss=st.one_of(st.none(), NAMES),
    aud=st.one_of(NAMES, st.lists(NAMES, min_size=1, max_size=4)),
)
def test_matching_answers_what_the_candidates_imply_whatever_the_layout(
    layout: dict[str, tuple[str | None, str | None]],
    own: frozenset[str],
    iss: str | None,
    aud: str | list[str],
) -> None:
    """`match_identity_provider` does its own lookups (no sets, for speed): it must name the
    one provider `candidates` finds, and refuse none as untrusted and several as ambiguous."""
    providers = {n: spec(n, i, a) for n, (i, a) in layout.items() if i is not None or a is not None}
    try:
        index = build_index(providers, own)
    except BundleError:
        return
    claims: dict[str, Any] = {"aud": aud} if iss is None else {"iss": iss, "aud": aud}
    found = candidates(index, claims)
    if len(found) == 1:
        assert match_identity_provider(index, claims) == next(iter(found))
        return
    with pytest.raises(InvalidRequest) as info:
        match_identity_provider(index, claims)
    assert info.value.reason == ("untrusted_issuer" if not found else "ambiguous")
