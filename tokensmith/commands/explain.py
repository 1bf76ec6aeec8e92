"""`tokensmith explain CONFIG --service S (--token JWT | --claims FILE) [--verify] [--now EPOCH]
[--format text|json]`.

Exit 0 when the token would be issued, 1 when it would be refused (or the config does not pass
`check`), 2 when an input cannot be read. `--token -` and `--claims -` read standard input,
which keeps a real token out of the shell's history.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ._args import epoch

if TYPE_CHECKING:
    from tokensmith.review.explain import Explanation


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="trace why a token would be issued or refused",
        description="Trace the exchange of a token for a service: which identity provider "
        "matched and why the others did not, each check's verdict, where every mapped value "
        "came from, and the issued claims. Exit 0 when issued, 1 when refused.",
    )
    parser.add_argument("config", metavar="CONFIG", help="a YAML file or a directory of them")
    parser.add_argument("--service", required=True, metavar="S", help="the service requested")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--token", metavar="JWT", help="the subject token (- for stdin)")
    given.add_argument("--claims", metavar="FILE",
                       help="a JSON file with the token's claims (- for stdin)")
    parser.add_argument("--verify", action="store_true",
                        help="check the signature when the keys are at hand (secret, inline jwks)")
    parser.add_argument("--now", type=epoch, metavar="EPOCH",
                        help="the time, in seconds since 1970 (default: the clock)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith import __version__
    from tokensmith.reporters import render_text
    from tokensmith.review.explain import explain
    from tokensmith.review.prepared import prepare
    from tokensmith.runtime.errors import ExchangeError
    from tokensmith.runtime.jose import parse_compact
    from tokensmith.schema.loader import ConfigReadError

    from ._input import InputError, read_text

    try:
        prepared = prepare(args.config, version=__version__)
        text = _token_text(args.token) if args.token is not None else read_text(args.claims)
    except (ConfigReadError, InputError) as exc:
        print(f"tokensmith explain: cannot read {exc}", file=sys.stderr)
        return 2
    if prepared.bundle is None:
        sys.stderr.write(render_text(prepared.check.diagnostics, prepared.check.source_map))
        return 1
    jws = None
    if args.token is not None:
        try:
            jws = parse_compact(text.strip())
        except ExchangeError as exc:
            print(f"refused: the token is not a compact JWS ({exc.reason})", file=sys.stderr)
            return 1
        claims: Any = jws.claims
    else:
        try:
            claims = _claims_object(text, args.claims)
        except InputError as exc:
            print(f"tokensmith explain: {exc}", file=sys.stderr)
            return 2
    now = time.time() if args.now is None else args.now
    result = explain(prepared, args.service, claims, now, jws, args.verify)
    sys.stdout.write(render_json(result) if args.format == "json" else render_text_trace(result))
    return 0 if result.issued else 1


def _token_text(token: str) -> str:
    from ._input import read_text

    return read_text("-") if token == "-" else token


def _claims_object(text: str, source: str) -> dict[str, Any]:
    """The claims in `text`, parsed as strictly as the runtime parses a token's payload: a
    duplicate member, NaN or a number out of range would mean two readings of one token."""
    from tokensmith.runtime.strict_json import StrictJSONError, loads

    from ._input import InputError

    try:
        claims = loads(text)
    except StrictJSONError as exc:
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            raise InputError(f"{source} is not JSON ({cause.msg} at line {cause.lineno} column "
                              f"{cause.colno})") from None
        raise InputError(f"{source} is not usable JSON: {exc}") from None
    if not isinstance(claims, dict):
        raise InputError(f"{source} must hold a JSON object")
    return claims


MARKS = {"ok": "ok  ", "failed": "FAIL", "skipped": "skip", "info": "    "}


def render_text_trace(result: Explanation) -> str:
    """The trace for a person: sections in the exchange's order, the verdict last."""
    from tokensmith.review.flatten import as_json
    from tokensmith.review.time_text import when

    lines = [f"explain: service {result.service} at {when(result.now)}", ""]
    if result.header is not None:
        lines.append("token header: " + as_json(result.header))
    lines += ["token claims: " + as_json(result.claims), ""]
    if result.providers:
        lines.append("identity providers:")
        width = max(len(p.name) for p in result.providers)
        lines += [f"  {p.name:<{width}}  {'matched ' if p.matched else 'no match'}  {p.reason}"
                  for p in result.providers]
        lines.append("")
    lines.append("checks:")
    lines += [f"  {MARKS[c.verdict]}  {'  ' * c.depth}{c.name}: {c.detail}"
              for c in result.checks]
    for mapping in result.mappings:
        lines += ["", f"mapping of {mapping.title}:"]
        key_width = max((len(v.output) for v in mapping.values), default=0)
        source_width = max((len(v.source) for v in mapping.values), default=0)
        for value in mapping.values:
            got = (f"= {as_json(value.value)}" if value.present
                   else "left out: the path matched nothing")
            lines.append(f"  {value.output:<{key_width}}  {value.source:<{source_width}}  {got}")
        if not mapping.values:
            lines.append("  (empty mapping: nothing is passed on)")
    lines.append("")
    lines += _verdict_lines(result)
    return "\n".join(lines) + "\n"


def _verdict_lines(result: Explanation) -> list[str]:
    if result.issued_claims is not None:
        return ["ISSUED; claims of the issued token:",
                *("  " + line for line in json.dumps(result.issued_claims, indent=2,
                                                     sort_keys=True).splitlines())]
    error = result.error
    assert error is not None
    return [f"REFUSED at check '{result.failed_check}': {error.error} ({error.reason}): "
            f"{error.description}"]


def render_json(result: Explanation) -> str:
    """The trace as one JSON document, for tools."""
    error = result.error
    document = {
        "service": result.service,
        "now": result.now,
        "header": result.header,
        "claims": result.claims,
        "identity_providers": [vars(p) for p in result.providers],
        "checks": [vars(c) for c in result.checks],
        "mappings": [{"title": m.title, "values": [vars(v) for v in m.values]}
                     for m in result.mappings],
        "issued": result.issued,
        "issued_claims": result.issued_claims,
        "failed_check": result.failed_check,
        "failed_step": result.failed_step,
        "error": None if error is None else {"error": error.error, "reason": error.reason,
                                             "description": error.description},
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


