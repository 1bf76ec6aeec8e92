"""The `glob` condition's matcher is linear in the claim's length, whatever the pattern.

    python bench/glob_bench.py [--repeat 5]

For adversarial patterns (`*a*a*a*a*a*b`, `*a*a*a*a*a*a*a*a*`, `a*?*?*?*b`) on texts of 1 KB to
16 KB (all `a`, all `a` then `b`, `ab` repeated, all `b`: every `*` could end almost anywhere),
it prints the best time per match and per character, which must not grow with the text. For
contrast it times the first pattern as the regular expression a naive implementation would
write (each `*` as `.*`, which backtracks) on 20 to 50 characters of `a` only: its time grows
like the fifth power of the length (100 characters already take seconds, 200 minutes).

Exit status 1 when a 16 KB match takes 100 ms or more, or when the time per character at 16 KB
is more than 4x the time per character at 1 KB (not linear).
"""

from __future__ import annotations

import argparse
import re
import sys
import timeit

from tokensmith.runtime.globs import compile_glob

PATTERNS = ("*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*", "a*?*?*?*b")
SIZES = (1024, 2048, 4096, 8192, 16384)
TEXTS = {
    "a...": lambda n: "a" * n,
    "a...b": lambda n: "a" * (n - 1) + "b",
    "abab...": lambda n: "ab" * (n // 2),
    "b...": lambda n: "b" * n,
}
REGEX_SIZES = (20, 30, 40, 50)
LIMIT_SECONDS = 0.1


def best(statement: object, repeat: int) -> float:
    timer = timeit.Timer(statement)  # type: ignore[arg-type]
    number, _ = timer.autorange()
    return min(timer.repeat(repeat, number)) / number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    failures: list[str] = []
    for pattern in PATTERNS:
        match = compile_glob(pattern)
        print(f"glob {pattern!r}")
        for name, make in TEXTS.items():
            per_char = {}
            for size in SIZES:
                text = make(size)
                seconds = best(lambda text=text, match=match: match(text),  # type: ignore[misc]
                               args.repeat)
                per_char[size] = seconds / size
                if size in (SIZES[0], SIZES[-1]):
                    print(f"  {name:8s} {size:6d} chars  {seconds * 1e6:9.1f} µs  "
                          f"{per_char[size] * 1e9:6.2f} ns/char")
                if size == SIZES[-1] and seconds >= LIMIT_SECONDS:
                    failures.append(f"{pattern!r} took {seconds * 1000:.1f} ms on {name}")
            if per_char[SIZES[-1]] > 4 * per_char[SIZES[0]]:
                failures.append(f"{pattern!r} on {name}: time per character grows")
    naive = re.compile("(?s:" + "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in PATTERNS[0]) + r")\Z")
    print(f"naive regular expression {naive.pattern!r}")
    for size in REGEX_SIZES:
        text = "a" * size
        seconds = best(lambda text=text: naive.match(text), 1)  # type: ignore[misc]
        print(f"  a...     {size:6d} chars  {seconds * 1e6:9.1f} µs")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
