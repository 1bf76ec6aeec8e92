"""Coverage-guided fuzzing of one target of `fuzz/targets.py` with atheris (libFuzzer).

    python fuzz/run_atheris.py TARGET [libFuzzer options] [CORPUS_DIR ...]

e.g. `python fuzz/run_atheris.py strict_json -max_total_time=60 fuzz/corpus/strict_json`.
`bench/fuzz_atheris.py` runs every target for a given time and reports executions and coverage.
A crash leaves its input in a `crash-*` file: add it to `fuzz/corpus/<target>/` with the fix, so
the normal test suite replays it for ever.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["tokensmith", "targets"]):
    from targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
