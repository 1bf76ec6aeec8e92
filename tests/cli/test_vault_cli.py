"""`tokensmith vault keygen|encrypt` through the real CLI, and the runtime opening the result."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tokensmith.runtime.vault import open_sealed

pytestmark = pytest.mark.slow


def run(
    args: list[str], stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if k != "TOKENSMITH_VAULT_KEY"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", "vault", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def test_keygen_then_encrypt_prints_a_reference_that_opens_to_the_secret() -> None:
    keygen = run(["keygen"])
    assert keygen.returncode == 0, keygen.stderr
    key = keygen.stdout.decode().strip()
    assert re.fullmatch(r"tsvk1_[A-Za-z0-9_-]{43}", key)

    secret = "sbsec_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
    encrypt = run(["encrypt"], stdin=(secret + "\n").encode(), env={"TOKENSMITH_VAULT_KEY": key})
    assert encrypt.returncode == 0, encrypt.stderr
    line = encrypt.stdout.decode()
    match = re.fullmatch(r'\{encrypted: "(tsv1:[A-Za-z0-9_-]+)"\}\n', line)
    assert match, line
    assert secret not in line and key not in line
    # one trailing newline was stripped, nothing else
    assert open_sealed(key, match.group(1)) == secret.encode()


def test_encrypt_without_vault_key_fails_with_usage_error() -> None:
    result = run(["encrypt"], stdin=b"secret\n")
    assert result.returncode == 2
    assert b"TOKENSMITH_VAULT_KEY is not set" in result.stderr
    assert b"secret" not in result.stdout


def test_encrypt_with_a_bad_vault_key_fails_without_echoing_it() -> None:
    result = run(["encrypt"], stdin=b"secret\n", env={"TOKENSMITH_VAULT_KEY": "hunter2-key"})
    assert result.returncode == 2
    assert b"hunter2" not in result.stderr and b"hunter2" not in result.stdout


def test_encrypt_refuses_an_empty_secret() -> None:
    key = run(["keygen"]).stdout.decode().strip()
    result = run(["encrypt"], stdin=b"\n", env={"TOKENSMITH_VAULT_KEY": key})
    assert result.returncode == 2 and b"empty" in result.stderr


def test_vault_without_a_verb_is_a_usage_error() -> None:
    assert run([]).returncode == 2
