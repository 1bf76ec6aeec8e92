"""Cost of the per-request JOSE work: strict parse plus signature check, per algorithm.

Run with `-s` to see the figures. The bounds are 10-20x what this machine measures (parse +
verify: HS256 ~12 us, RS256 ~30 us, ES256 ~80 us), so only a real regression fails them,
never a busy CI runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.keys import VerificationKey
from tokensmith.runtime.static_keys import StaticKeySource
from tokensmith.runtime.verification_keys import EcKey, HmacKey, RsaKey

CLAIMS = {"iss": "https://idp.example/", "aud": "svc", "sub": "user-123", "exp": 4_000_000_000,
          "iat": 1_700_000_000, "email": "a@b.c", "email_verified": True}  # fmt: skip
SECRET = b"cost-measurement-secret-0123456789"
RSA_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())

CASES: dict[str, tuple[object, VerificationKey, float]] = {
    "HS256": (SECRET, HmacKey("k", SECRET, ["HS256"]), 250e-6),
    "RS256": (RSA_KEY, RsaKey("k", RSA_KEY.public_key(), ["RS256"]), 600e-6),
    "ES256": (EC_KEY, EcKey("k", EC_KEY.public_key(), ["ES256"]), 1500e-6),
}


def per_call(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(runs):
            fn()
        best = min(best, (time.perf_counter() - started) / runs)
    return best


@pytest.mark.parametrize("alg", sorted(CASES))
def test_parse_and_verify_cost(alg: str) -> None:
    signing_key, key, bound = CASES[alg]
    token = jwt.encode(CLAIMS, signing_key, algorithm=alg, headers={"kid": "k"})  # type: ignore[arg-type]
    source = StaticKeySource([key])

    def parse_and_verify() -> bool:
        jws = parse_compact(token)
        header_alg = jws.header["alg"]
        return any(
            k.verify(header_alg, jws.signing_input, jws.signature)
            for k in source.candidates(jws.header.get("kid"), header_alg)
        )

    assert parse_and_verify()
    parse = per_call(lambda: parse_compact(token), 300)
    total = per_call(parse_and_verify, 300)
    print(f"\n{alg}: parse {parse * 1e6:.1f} us, parse + verify {total * 1e6:.1f} us")
    assert total < bound
