"""Whatever a valid config holds (odd URLs, odd inline keys, odd names), the rules answer with
located findings and never raise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tokensmith.compiler.rules import run_rules
from tokensmith.schema.location import Location, SourceMap
from tokensmith.schema.models import ALGORITHMS, Config

_TEXT = st.text(min_size=1, max_size=12)
_URLS = st.one_of(
    _TEXT,
    st.sampled_from(
        [
            "http://[::1",
            "https://:0/",
            "https://h:99999/",
            "http://127.0.0.1:8/x",
            "https:///x",
            "https://u:p@h/",
            "//h/x",
            "HTTPS://Token.Actions.GithubUserContent.com/",
            "accounts.google.com",
            "https://securetoken.google.com/",
            "http://localhost.",
        ]
    ),
    _TEXT.map(lambda tail: "https://" + tail),
)
_JWK_MEMBERS = ["kty", "n", "e", "crv", "x", "y", "d", "k", "alg", "use", "key_ops", "kid", "oth"]
_JWK_VALUES = st.one_of(
    _TEXT,
    st.integers(),
    st.none(),
    st.lists(_TEXT, max_size=2),
    st.sampled_from(["RSA", "EC", "OKP", "oct", "P-256", "Ed25519", "AQAB", "sig", "RS256"]),
)
_JWKS = st.lists(
    st.dictionaries(st.sampled_from(_JWK_MEMBERS), _JWK_VALUES, max_size=6), max_size=3
).map(lambda keys: {"keys": keys})


@st.composite
def _providers(draw: st.DrawFn) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "algorithms": draw(st.lists(st.sampled_from(ALGORITHMS), max_size=3)),
        "leeway": draw(st.integers(-10, 1000)),
        "discovery": draw(st.booleans()),
        "allow_insecure_http": draw(st.booleans()),
    }
    optional = {
        "issuer": _URLS,
        "audience": _TEXT,
        "jwks_url": _URLS,
        "jwks": _JWKS,
        "secret": st.just({"env": "SECRET"}),
        "require": st.dictionaries(_TEXT, _TEXT, max_size=2),
    }
    for field, strategy in optional.items():
        if draw(st.booleans()):
            provider[field] = draw(strategy)
    return provider


@st.composite
def _configs(draw: st.DrawFn) -> Config:
    names = st.text(min_size=0, max_size=8)
    providers = draw(st.dictionaries(names, _providers(), max_size=4))
    services = draw(
        st.dictionaries(
            names,
            st.fixed_dictionaries(
                {"signing_key": st.sampled_from(["main", "other", ""])},
                optional={
                    "expires_in": st.one_of(st.integers(-5, 10**6), _TEXT),
                    "issuer": _URLS,
                    "identity_providers": st.lists(names, max_size=3),
                },
            ),
            max_size=3,
        )
    )
    origins = draw(st.lists(st.one_of(_URLS, st.just("*")), max_size=3))
    data = {
        "version": 1,
        "issuer": draw(_URLS),
        "signing_keys": {"main": {"algorithm": "HS256", "secret": {"env": "K"}}},
        "identity_providers": providers,
        "token_providers": services,
        "cors": {"allow_origins": origins},
        "tests": [{"name": "t", "service": "x", "token": {}, "expect": {"identity_provider": "y"}}],
    }
    try:
        return Config.model_validate(data)
    except ValidationError:
        reject()  # the model refuses it, so the rules would never see it


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(_configs())
def test_rules_never_raise_and_always_locate(config: Config) -> None:
    source_map = SourceMap(texts={"tokensmith.yaml": ""})
    for finding in run_rules(config, source_map):
        assert isinstance(finding.location, Location)
        assert finding.code[0] in "EW" and finding.message
