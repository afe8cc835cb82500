"""Dispatch ``python -m tests.benchmarks <benchmark> [options]``; the default is ``ingest``.

Each benchmark is a module ``bench_<name>.py`` in this folder with ``main(argv) -> int``; it is found by
its file name, so adding one needs no registration here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

BENCHMARKS = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
USAGE = "usage: python -m tests.benchmarks [{}] [options]   (default: ingest; <name> --help for options)"


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE.format("|".join(BENCHMARKS)))
        return 0
    name, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("ingest", argv)
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}\n" + USAGE.format("|".join(BENCHMARKS)), file=sys.stderr)
        return 2
    module = importlib.import_module(f"tests.benchmarks.bench_{name}")
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
