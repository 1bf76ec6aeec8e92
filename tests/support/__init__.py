"""The shared test world: what tests build on, holding no tests itself.

- `exchange_world`: seven identity providers and a few services built the production way from a
  `RuntimeConfig` (no YAML, no socket), tokens minted with PyJWT, and `refused` / `assert_safe`
  for checking a refusal; the exchange tests' world.
- `compiled_world`: a runtime compiled from YAML through `check` and the bundle bytes
  (`compiled_service`), for attack tests that must go through the compiler as users do.
- `http_server`: hand-written bundles (`World`) and the real server, uvicorn with uvloop and
  httptools, in a thread (`running`) or a subprocess (`serving`); `free_port`.
- `jwks_server`: a real JWKS endpoint on 127.0.0.1 that tests drive into faults and that counts
  what it receives.
- `openapi_check`: holds an HTTP answer to the OpenAPI description the runtime serves.

Tests that start a server, a subprocess or wait on a timer are marked `slow` (`tests/conftest.py`
enforces it for the fixtures and helpers here), so `python -m pytest -m "not slow"` stays fast.
"""
