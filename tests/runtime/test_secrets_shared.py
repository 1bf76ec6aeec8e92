"""Start-up with many identity providers sharing one secret reference: resolved once, reported
per provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from tokensmith.runtime.secrets import resolve_all

from .test_secrets import GOOD_HMAC, OTHER_HMAC, assert_no_secret, config, problems_of


class CountingEnv(Mapping[str, str]):
    """An environment that counts how often each variable is read."""

    def __init__(self, values: dict[str, str]) -> None:
        self.env = values
        self.reads: dict[str, int] = {}

    def __getitem__(self, name: str) -> str:
        self.reads[name] = self.reads.get(name, 0) + 1
        return self.env[name]

    def __contains__(self, name: object) -> bool:
        return name in self.env

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def test_a_shared_reference_is_resolved_once_and_keys_verify_for_every_provider() -> None:
    idps = {f"idp{i:03d}": {"secret": {"env": "SHARED"}, "issuer": f"https://i{i}/"}
            for i in range(200)}  # fmt: skip
    cfg = config({"hs": {"algorithm": "HS256", "secret": {"env": "HS"}}}, idps)
    env = CountingEnv({"HS": GOOD_HMAC, "SHARED": OTHER_HMAC})
    resolved = resolve_all(cfg, env)
    assert env.reads == {"HS": 1, "SHARED": 1}
    assert sorted(resolved.key_sources) == sorted(idps)
    for source in resolved.key_sources.values():
        (key,) = source.candidates(None, "HS256")
        assert key.algorithms == frozenset({"HS256"})


def test_a_bad_shared_reference_is_reported_for_every_provider_that_uses_it() -> None:
    idps = {
        "a_missing": {"secret": {"env": "MISSING"}},
        "b_missing": {"secret": {"env": "MISSING"}, "issuer": "https://b/"},
        "c_short": {"secret": {"env": "SHORT"}, "issuer": "https://c/"},
        "d_short": {"secret": {"env": "SHORT"}, "issuer": "https://d/"},
        "e_reused": {"secret": {"env": "HS"}, "issuer": "https://e/"},
        "f_reused": {"secret": {"env": "HS"}, "issuer": "https://f/"},
    }
    cfg = config({"hs": {"algorithm": "HS256", "secret": {"env": "HS"}}}, idps)
    problems = problems_of(cfg, {"HS": GOOD_HMAC, "SHORT": "SECRETMARK-short"})
    assert_no_secret(problems)
    assert problems == [
        "identity_providers.a_missing: environment variable MISSING is not set",
        "identity_providers.b_missing: environment variable MISSING is not set",
        "identity_providers.c_short: the secret has 16 bytes; HS256 needs 32",
        "identity_providers.d_short: the secret has 16 bytes; HS256 needs 32",
        "identity_providers.e_reused: the secret is also the secret of signing_keys.hs",
        "identity_providers.f_reused: the secret is also the secret of signing_keys.hs",
    ]
