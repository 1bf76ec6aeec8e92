"""How fast a generated mapping function is, against jsonpath-ng and hand-written code.

    python bench/mapping_bench.py [--min-time 0.2] [--repeat 5]

Two mappings: State Backed's seed example (4 keys, one nested object) and a 20-key mapping with
nested objects, an index, a context path and a missing claim. Four ways to run each:

* generated: the function tokensmith compiles into a bundle's `mappings.py`;
* jsonpath-ng pre-parsed: a straightforward evaluator that walks the mapping and calls
  `expr.find` on expressions parsed once beforehand;
* jsonpath-ng per call: the same evaluator, parsing every path on every call;
* hand-written: the function a careful engineer would write for that mapping.

All four must give the same output (checked first). Each figure is the best of `--repeat`
`timeit` runs, each long enough to take `--min-time` seconds. Targets (issue 3): generated
within 2x of hand-written and at least 20x faster than pre-parsed jsonpath-ng; exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from typing import Any

from jsonpath_ng.ext.parser import parse

from tokensmith.compiler.mappings import Origin, generate_module, lower_mapping
from tokensmith.compiler.mappings.paths import parse_path

Function = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
CONTEXT = {"identity_provider": "auth0", "service": "my-service"}

SEED = {
    "sub.$": "$.sub",
    "email.$": "$.email",
    "service": "my-service",
    "special": {"role.$": "$.role.id"},
}
SEED_CLAIMS = {"sub": "my-user-id", "email": "my-email@statebacked.dev", "role": {"id": "my-role"}}

TWENTY = {
    "sub.$": "$.sub",
    "email.$": "$.email",
    "email_verified.$": "$.email_verified",
    "name.$": "$.name",
    "locale.$": "$.locale",
    "org": {"id.$": "$.org_id", "name.$": "$.org.name", "tier.$": "$.org.tier"},
    "roles.$": "$.app_metadata.roles",
    "plan.$": "$.app_metadata.plan.name",
    "first_team.$": "$.teams[0].name",
    "service": "my-service",
    "version": 2,
    "auth": {"provider.$": "$$.identity_provider", "method": "oidc", "amr.$": "$.amr[0]"},
    "tenant.$": "$.tenant",
    "nickname.$": "$.nickname",
}
TWENTY_CLAIMS = {
    "sub": "auth0|1234",
    "email": "ada@example.com",
    "email_verified": True,
    "name": "Ada",
    "locale": "en",
    "org_id": "org_1",
    "org": {"name": "Example", "tier": "gold"},
    "app_metadata": {"roles": ["admin", "dev"], "plan": {"name": "pro"}},
    "teams": [{"name": "core"}, {"name": "web"}],
    "amr": ["pwd", "mfa"],
    "tenant": "t1",
}


def hand_seed(claims: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "sub" in claims:
        out["sub"] = claims["sub"]
    if "email" in claims:
        out["email"] = claims["email"]
    out["service"] = "my-service"
    special: dict[str, Any] = {}
    role = claims.get("role")
    if isinstance(role, dict) and "id" in role:
        special["role"] = role["id"]
    out["special"] = special
    return out


def hand_twenty(claims: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("sub", "email", "email_verified", "name", "locale"):
        if key in claims:
            out[key] = claims[key]
    org: dict[str, Any] = {}
    if "org_id" in claims:
        org["id"] = claims["org_id"]
    source = claims.get("org")
    if isinstance(source, dict):
        if "name" in source:
            org["name"] = source["name"]
        if "tier" in source:
            org["tier"] = source["tier"]
    out["org"] = org
    meta = claims.get("app_metadata")
    if isinstance(meta, dict):
        if "roles" in meta:
            out["roles"] = meta["roles"]
        plan = meta.get("plan")
        if isinstance(plan, dict) and "name" in plan:
            out["plan"] = plan["name"]
    teams = claims.get("teams")
    if isinstance(teams, list) and teams and isinstance(teams[0], dict) and "name" in teams[0]:
        out["first_team"] = teams[0]["name"]
    out["service"] = "my-service"
    out["version"] = 2
    auth: dict[str, Any] = {"provider": context["identity_provider"], "method": "oidc"}
    amr = claims.get("amr")
    if isinstance(amr, list) and amr:
        auth["amr"] = amr[0]
    out["auth"] = auth
    for key in ("tenant", "nickname"):
        if key in claims:
            out[key] = claims[key]
    return out


def generated(mapping: dict[str, Any]) -> Function:
    text = generate_module({"p": lower_mapping(mapping, Origin("bench", 1))}, {}, {}, [], "bench")
    namespace: dict[str, Any] = {}
    exec(compile(text, "<mappings.py>", "exec", dont_inherit=True), namespace)
    function: Function = namespace["IDENTITY_PROVIDER_MAPPINGS"]["p"]
    return function


def jsonpath_evaluator(mapping: dict[str, Any], preparsed: bool) -> Function:
    """A straightforward evaluator of the mapping semantics on top of jsonpath-ng."""

    def prepare(node: dict[str, Any]) -> list[tuple[str, str, Any, bool]]:
        entries: list[tuple[str, str, Any, bool]] = []
        for key, value in node.items():
            if key.endswith(".$"):
                path = parse_path(value)
                expr = parse(path.expression) if preparsed else path.expression
                entries.append((key[:-2], "context" if path.root == "context" else "input",
                                expr, path.definite))  # fmt: skip
            elif isinstance(value, dict):
                entries.append((key, "object", prepare(value), False))
            else:
                entries.append((key, "constant", value, False))
        return entries

    def run(entries: list[tuple[str, str, Any, bool]], claims: Any, context: Any) -> Any:
        out: dict[str, Any] = {}
        for key, kind, item, definite in entries:
            if kind == "object":
                out[key] = run(item, claims, context)
            elif kind == "constant":
                out[key] = list(item) if isinstance(item, list) else item
            else:
                expr = item if preparsed else parse(item)
                found = expr.find(context if kind == "context" else claims)
                if not definite:
                    out[key] = [m.value for m in found]
                elif found:
                    out[key] = found[0].value
        return out

    prepared = prepare(mapping)
    return lambda claims, context: run(prepared, claims, context)


def best_per_call(
    function: Function, claims: dict[str, Any], min_time: float, repeat: int
) -> float:
    """Seconds per call: the best of `repeat` runs of a loop sized to take `min_time` seconds."""
    timer = timeit.Timer(lambda: function(claims, CONTEXT))
    number = 1
    while timer.timeit(number) < min_time / 4:
        number *= 4
    number = max(1, int(number * min_time / max(timer.timeit(number), 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    ok = True
    print(f"{'mapping':<10}{'variant':<26}{'us/call':>10}{'x generated':>14}")
    for label, mapping, claims, hand in (
        ("seed", SEED, SEED_CLAIMS, hand_seed),
        ("20-key", TWENTY, TWENTY_CLAIMS, hand_twenty),
    ):
        variants = {
            "generated": generated(mapping),
            "jsonpath-ng pre-parsed": jsonpath_evaluator(mapping, preparsed=True),
            "jsonpath-ng per call": jsonpath_evaluator(mapping, preparsed=False),
            "hand-written": hand,
        }
        outputs = {name: f(dict(claims), CONTEXT) for name, f in variants.items()}
        if any(out != outputs["generated"] for out in outputs.values()):
            print(f"{label}: the variants disagree: {outputs}", file=sys.stderr)
            return 2
        times = {
            n: best_per_call(f, claims, args.min_time, args.repeat) for n, f in variants.items()
        }
        for name, seconds in times.items():
            ratio = seconds / times["generated"]
            print(f"{label:<10}{name:<26}{seconds * 1e6:>10.2f}{ratio:>13.2f}x")
        vs_hand = times["generated"] / times["hand-written"]
        vs_jsonpath = times["jsonpath-ng pre-parsed"] / times["generated"]
        passed = vs_hand <= 2.0 and vs_jsonpath >= 20.0
        ok = ok and passed
        print(
            f"{label:<10}generated / hand-written = {vs_hand:.2f} (target <= 2); "
            f"pre-parsed jsonpath-ng / generated = {vs_jsonpath:.1f} (target >= 20): "
            f"{'ok' if passed else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
