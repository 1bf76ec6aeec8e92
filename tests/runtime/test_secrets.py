"""Start-up secrets: every problem of a config is reported at once, naming the item, never the secret."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokensmith.runtime.errors import StartupError
from tokensmith.runtime.model import RuntimeConfig, SecretRef, parse_config
from tokensmith.runtime.secrets import SecretError, resolve_all, resolve_secret
from tokensmith.runtime.signing import Signer
from tokensmith.runtime.static_keys import StaticKeySource
from tokensmith.runtime.vault import keygen, parse_key, seal

from ..support.http_server import private_pem

RSA_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
MARK = "SECRETMARK"  # every secret value in these tests contains it
GOOD_HMAC = MARK + "-good-hmac-secret-0123456789abcdef"
OTHER_HMAC = MARK + "-another-hmac-secret-9876543210fedcba"



def public_pem(key: Any) -> str:
    return str(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def config(signing: dict[str, Any], idps: dict[str, Any]) -> RuntimeConfig:
    def idp(spec: dict[str, Any]) -> dict[str, Any]:
        base = {"issuer": "https://idp.example/", "audience": "svc", "algorithms": ["HS256"],
                "leeway": 60, "jwks_url": None, "discovery": False, "allow_insecure_http": False,
                "jwks": None, "secret": None, "has_require": False}  # fmt: skip
        return {**base, **spec}

    return parse_config(
        {
            "format": "tokensmith-config/1",
            "issuer": "https://tokens.example.com/",
            "signing_keys": {
                kid: {"secret": None, "private_key": None, **spec} for kid, spec in signing.items()
            },
            "identity_providers": {name: idp(spec) for name, spec in idps.items()},
            "token_providers": {},
        }
    )


def problems_of(cfg: RuntimeConfig, env: dict[str, str], base_dir: Path | None = None) -> list[str]:
    with pytest.raises(StartupError) as info:
        resolve_all(cfg, env, base_dir=base_dir)
    return info.value.problems


def assert_no_secret(texts: list[str]) -> None:
    for text in texts:
        assert MARK not in text and "BEGIN" not in text and "tsv1:" not in text, text


def test_a_good_config_resolves_to_signers_and_static_key_sources(tmp_path: Path) -> None:
    (tmp_path / "rsa.pem").write_text(private_pem(RSA_KEY))
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key())) | {"kid": "e1"}
    cfg = config(
        {
            "hs": {"algorithm": "HS256", "secret": {"env": "HS"}},
            "rs": {"algorithm": "RS256", "private_key": {"file": "rsa.pem"}},
        },
        {
            "supabase": {"secret": {"env": "SB"}},
            "inline": {"algorithms": ["ES256"], "jwks": {"keys": [jwk]}},
            "remote": {"algorithms": ["RS256"], "jwks_url": "https://idp.example/jwks"},
        },
    )
    resolved = resolve_all(cfg, {"HS": GOOD_HMAC, "SB": OTHER_HMAC}, base_dir=tmp_path)
    assert sorted(resolved.signers) == ["hs", "rs"]
    assert all(isinstance(s, Signer) for s in resolved.signers.values())
    assert sorted(resolved.key_sources) == ["inline", "supabase"]  # remote: the JWKS cache's
    source = resolved.key_sources["supabase"]
    assert isinstance(source, StaticKeySource)
    token = jwt.encode({"sub": "u"}, OTHER_HMAC, algorithm="HS256", headers={"kid": "any"})
    signing_input, _, sig = token.rpartition(".")
    (key,) = source.candidates("any", "HS256")
    assert key.verify("HS256", signing_input.encode(), base64.urlsafe_b64decode(sig + "="))


def test_every_problem_is_listed_at_once_naming_the_item(tmp_path: Path) -> None:
    (tmp_path / "not-utf8").write_bytes(b"\xff\xfe" + MARK.encode() * 3)
    (tmp_path / "garbage.pem").write_text(MARK + " not a key")
    (tmp_path / "ec.pem").write_text(private_pem(EC_KEY))
    private_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY)) | {"kid": "leaky"}
    sealed = seal(keygen(), (MARK * 4).encode())
    cfg = config(
        {
            "missing_env": {"algorithm": "HS256", "secret": {"env": "NOT_SET_ANYWHERE"}},
            "short": {"algorithm": "HS256", "secret": {"env": "SHORT"}},
            "hs512_short": {"algorithm": "HS512", "secret": {"env": "HS256_SIZED"}},
            "no_file": {"algorithm": "RS256", "private_key": {"file": "absent.pem"}},
            "garbage": {"algorithm": "RS256", "private_key": {"file": "garbage.pem"}},
            "wrong_alg": {"algorithm": "RS256", "private_key": {"file": "ec.pem"}},
            "bad_b64": {"algorithm": "HS256", "secret": {"env": "NOT_B64", "encoding": "base64"}},
            "bad_utf8": {"algorithm": "HS256", "secret": {"file": "not-utf8"}},
            "sealed": {"algorithm": "HS256", "secret": {"encrypted": sealed}},
            "wrong_field": {"algorithm": "ES256", "secret": {"env": "SHORT"}},
        },
        {
            "weak_idp": {"secret": {"env": "SHORT"}},
            "pem_idp": {"secret": {"env": "PUBLIC_PEM"}},
            "mixed_idp": {"algorithms": ["HS256", "RS256"], "secret": {"env": "HS256_SIZED"}},
            "leaky_jwks": {"algorithms": ["RS256"], "jwks": {"keys": [private_jwk]}},
        },
    )
    env = {
        "SHORT": MARK + "-short",
        "HS256_SIZED": MARK + "x" * 30,
        "NOT_B64": MARK + "!!!",
        "PUBLIC_PEM": public_pem(RSA_KEY),
    }
    problems = problems_of(cfg, env, base_dir=tmp_path)
    assert_no_secret(problems)
    expected = [
        "TOKENSMITH_VAULT_KEY: not set",
        "signing_keys.bad_b64: {env: NOT_B64} is not valid base64",
        "signing_keys.bad_utf8: {file: not-utf8} is not valid UTF-8",
        "signing_keys.garbage: the private key is not a PEM private key",
        "signing_keys.hs512_short: an HS512 secret must be at least 64 bytes",
        "signing_keys.missing_env: environment variable NOT_SET_ANYWHERE is not set",
        "signing_keys.no_file: file absent.pem cannot be read",
        "signing_keys.short: an HS256 secret must be at least 32 bytes",
        "signing_keys.wrong_alg: RS256 needs an RSA private key",
        "signing_keys.wrong_field: ES256 needs a private_key",
        "identity_providers.leaky_jwks.jwks: a key (kid 'leaky') is not usable: private_key",
        "identity_providers.leaky_jwks.jwks: no usable key",
        "identity_providers.mixed_idp: a secret verifies only HS256, HS384 and HS512",
        "identity_providers.pem_idp: the secret is a public key",
        "identity_providers.weak_idp: the secret has 16 bytes; HS256 needs 32",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected)


def test_low_entropy_and_reused_secrets_are_refused() -> None:
    cfg = config(
        {
            "flat": {"algorithm": "HS256", "secret": {"env": "FLAT"}},
            "issuing": {"algorithm": "HS256", "secret": {"env": "SHARED"}},
        },
        {
            "flat_idp": {"secret": {"env": "FLAT"}},
            "loop_idp": {"secret": {"env": "SHARED"}},
        },
    )
    problems = problems_of(cfg, {"FLAT": "ab" * 20, "SHARED": GOOD_HMAC})
    assert_no_secret(problems)
    assert problems == [
        "signing_keys.flat: the secret has fewer than 8 distinct bytes (guessable)",
        "identity_providers.flat_idp: the secret has fewer than 8 distinct bytes (guessable)",
        "identity_providers.loop_idp: the secret is also the secret of signing_keys.issuing",
    ]


def test_wrong_or_damaged_vault_key_is_a_startup_problem() -> None:
    sealed = seal(keygen(), GOOD_HMAC.encode())
    cfg = config({"k": {"algorithm": "HS256", "secret": {"encrypted": sealed}}}, {})
    (problem,) = problems_of(cfg, {"TOKENSMITH_VAULT_KEY": keygen()})
    assert problem.startswith("signing_keys.k: the encrypted value does not open")
    (problem,) = problems_of(cfg, {"TOKENSMITH_VAULT_KEY": "not-a-key"})
    assert problem.startswith("TOKENSMITH_VAULT_KEY: the vault key is not a tokensmith vault key")
    assert "not-a-key" not in problem


def test_encrypted_secrets_open_with_the_right_vault_key() -> None:
    key = keygen()
    cfg = config(
        {"k": {"algorithm": "HS256", "secret": {"encrypted": seal(key, GOOD_HMAC.encode())}}}, {}
    )
    signer = resolve_all(cfg, {"TOKENSMITH_VAULT_KEY": key}).signers["k"]
    token = signer.sign({"a": 1})
    assert jwt.decode(token, GOOD_HMAC, algorithms=["HS256"]) == {"a": 1}


def test_no_vault_key_is_needed_without_encrypted_secrets() -> None:
    cfg = config({"k": {"algorithm": "HS256", "secret": {"env": "K"}}}, {})
    assert "k" in resolve_all(cfg, {"K": GOOD_HMAC}).signers


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"abc\n", b"abc"),
        (b"abc\r\n", b"abc"),
        (b"abc\n\n", b"abc\n"),
        (b"abc", b"abc"),
        (b" abc ", b" abc "),
    ],
)
def test_file_secrets_lose_exactly_one_trailing_newline(
    tmp_path: Path, content: bytes, expected: bytes
) -> None:
    (tmp_path / "s").write_bytes(content)
    ref = SecretRef("file", str(tmp_path / "s"))
    assert resolve_secret(ref, {}, None) == expected


def test_encodings() -> None:
    raw = bytes(range(200, 240))
    env = {
        "UTF8": "sbsec_é",
        "B64": base64.b64encode(raw).decode(),
        "B64URL": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "B64_SPACED": "  " + base64.b64encode(raw).decode() + "\n",
    }
    assert resolve_secret(SecretRef("env", "UTF8"), env, None) == "sbsec_é".encode()
    assert resolve_secret(SecretRef("env", "B64", "base64"), env, None) == raw
    assert resolve_secret(SecretRef("env", "B64URL", "base64url"), env, None) == raw
    assert resolve_secret(SecretRef("env", "B64_SPACED", "base64"), env, None) == raw
    with pytest.raises(SecretError):
        resolve_secret(SecretRef("env", "B64URL", "base64"), env | {"B64URL": "-_-_"}, None)


def test_empty_and_undecodable_values_are_refused() -> None:
    with pytest.raises(SecretError, match="is empty"):
        resolve_secret(SecretRef("env", "E"), {"E": ""}, None)
    with pytest.raises(SecretError, match="not valid UTF-8"):
        resolve_secret(SecretRef("env", "E"), {"E": "abc\udcff"}, None)
    with pytest.raises(SecretError, match="TOKENSMITH_VAULT_KEY"):
        resolve_secret(SecretRef("encrypted", "tsv1:AAAA"), {}, None)


def test_relative_file_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("value\n")
    ref = SecretRef("file", "s.txt")
    assert resolve_secret(ref, {}, None, base_dir=tmp_path) == b"value"


def test_vault_key_parsing_accepts_surrounding_whitespace() -> None:
    key = keygen()
    assert parse_key(key + "\n") == parse_key(key)


def test_a_printed_reference_or_config_never_shows_sealed_text() -> None:
    sealed = seal(keygen(), GOOD_HMAC.encode())
    ref = SecretRef("encrypted", sealed)
    spec = repr(parse_config(_config_with_sealed(sealed)))
    assert sealed[5:] not in repr(ref) and sealed[5:] not in spec
    assert repr(ref) == "SecretRef(an {encrypted} secret, encoding='utf8')"
    assert repr(SecretRef("env", "HMAC_SECRET", "base64")) == (
        "SecretRef({env: HMAC_SECRET}, encoding='base64')"
    )


def _config_with_sealed(sealed: str) -> dict[str, Any]:
    secret = {"encrypted": sealed}
    return {
        "format": "tokensmith-config/1",
        "issuer": "https://tokens.example.com/",
        "cors": None,
        "signing_keys": {"k": {"algorithm": "HS256", "secret": secret, "private_key": None}},
        "identity_providers": {},
        "token_providers": {},
    }
