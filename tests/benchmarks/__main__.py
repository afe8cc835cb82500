"""Dispatch ``python -m tests.benchmarks <benchmark> [options]``; the default is ``ingest``.

Each benchmark is a module ``bench_<name>.py`` with ``main(argv) -> int``. Add new ones to BENCHMARKS.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _ingest(argv: Sequence[str]) -> int:
    from tests.benchmarks import bench_ingest

    return bench_ingest.main(argv)


def _batch(argv: Sequence[str]) -> int:
    from tests.benchmarks import bench_batch

    return bench_batch.main(argv)


BENCHMARKS: dict[str, Callable[[Sequence[str]], int]] = {"ingest": _ingest, "batch": _batch}
USAGE = "usage: python -m tests.benchmarks [{}] [options]   (default: ingest; <name> --help for options)"


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE.format("|".join(BENCHMARKS)))
        return 0
    name, rest = (argv[0], argv[1:]) if argv and not argv[0].startswith("-") else ("ingest", argv)
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}\n" + USAGE.format("|".join(BENCHMARKS)), file=sys.stderr)
        return 2
    return BENCHMARKS[name](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
