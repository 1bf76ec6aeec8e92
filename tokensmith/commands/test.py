"""`tokensmith test CONFIG [-k PATTERN] [--format text|json|junit] [--now EPOCH]`.

Runs the config's `tests:` offline (see `review/testing.py` for what a case checks). Text
output ends with exactly `N passed, N failed`; with json or junit that line goes to stderr so
that stdout stays one document. Exit 0 when every case passed, 1 when one failed or the config
does not pass `check`, 2 when the config cannot be read or no case name contains the `-k` PATTERN.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from ._args import whole_epoch

if TYPE_CHECKING:
    from tokensmith.review.testing import CaseResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "test",
        help="run the config's tests offline through the exchange",
        description="Run the `tests:` of a config offline: each case's token claims are taken "
        "as verified and exchanged by the runtime's own code. Exit 1 when a case fails.",
    )
    parser.add_argument("config", metavar="CONFIG", help="a YAML file or a directory of them")
    parser.add_argument("-k", dest="pattern", metavar="PATTERN",
                        help="run only the cases whose name contains PATTERN (any case; exit 2 "
                             "when none does)")
    parser.add_argument("--format", choices=("text", "json", "junit"), default="text",
                        help="how to print results (default: text)")
    parser.add_argument("--now", type=whole_epoch, metavar="EPOCH",
                        help="the time of cases without their own `now` (default: the clock)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tokensmith import __version__
    from tokensmith.reporters import render_text
    from tokensmith.review.prepared import prepare
    from tokensmith.review.testing import run_tests
    from tokensmith.schema.loader import ConfigReadError

    try:
        prepared = prepare(args.config, version=__version__)
    except ConfigReadError as exc:
        print(f"tokensmith test: cannot read {exc}", file=sys.stderr)
        return 2
    check = prepared.check
    if prepared.bundle is None or check.config is None:
        sys.stderr.write(render_text(check.diagnostics, check.source_map))
        print("the config does not pass `tokensmith check`; no test was run", file=sys.stderr)
        return 1
    results = run_tests(prepared.bundle, check.config.tests, check.source_map, args.pattern,
                        None if args.now is None else float(args.now))
    if args.pattern is not None and not results:
        # a mistyped -k would otherwise make a CI job green without running anything
        print(f"tokensmith test: no test case name contains {args.pattern!r}", file=sys.stderr)
        return 2
    failed = sum(not r.passed for r in results)
    summary = f"{len(results) - failed} passed, {failed} failed"
    if args.format == "text":
        sys.stdout.write(render_results(results))
        print(summary)
    else:
        render = render_json if args.format == "json" else render_junit
        sys.stdout.write(render(results, args.config))
        print(summary, file=sys.stderr)
    return 1 if failed else 0


def render_results(results: Sequence[CaseResult]) -> str:
    """One line per case; under a failure, its location and what differs (each line printable
    as it is: names and values never break a line of a CI log)."""
    from tokensmith.reporters import one_line

    lines: list[str] = []
    for result in results:
        if result.passed:
            lines.append(f"PASS {one_line(result.name)}")
            continue
        lines.append(f"FAIL {one_line(result.name)}")
        lines.append(f"  {one_line(str(result.location))}")
        lines += [f"  {one_line(problem)}" for problem in result.problems]
    return "".join(f"{line}\n" for line in lines)


def render_json(results: Sequence[CaseResult], config: str) -> str:
    """One JSON document: every case with its outcome, and the counts."""
    cases = [
        {
            "name": r.name,
            "file": r.location.file,
            "line": r.location.line,
            "passed": r.passed,
            "problems": list(r.problems),
            "identity_provider": r.outcome.identity_provider,
            "claims": None if r.outcome.claims is None else r.outcome.mapped_claims,
            "error": r.outcome.error,
            "reason": r.outcome.reason,
        }
        for r in results
    ]
    failed = sum(not r.passed for r in results)
    document = {"config": config, "tests": cases, "passed": len(results) - failed,
                "failed": failed}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_junit(results: Sequence[CaseResult], config: str) -> str:
    """JUnit XML, one `testcase` per case, for CI test reporters."""
    failed = sum(not r.passed for r in results)
    suites = ElementTree.Element("testsuites", tests=str(len(results)), failures=str(failed))
    suite = ElementTree.SubElement(suites, "testsuite", name=_xml_text(f"tokensmith {config}"),
                                   tests=str(len(results)), failures=str(failed), errors="0")
    for result in results:
        case = ElementTree.SubElement(suite, "testcase", name=_xml_text(result.name),
                                      classname=_xml_text(config),
                                      file=_xml_text(result.location.file),
                                      line=str(result.location.line))
        if not result.passed:
            failure = ElementTree.SubElement(case, "failure",
                                             message=_xml_text(result.problems[0]))
            failure.text = _xml_text("\n".join(result.problems))
    ElementTree.indent(suites)
    body = ElementTree.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# Characters XML 1.0 cannot hold at all, even escaped (ElementTree writes them as they are,
# which makes the whole report unreadable to a CI test reporter).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """`text` with each character XML cannot hold written as `\\xNN` / `\\uNNNN` instead."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
