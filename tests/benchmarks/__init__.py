"""Benchmarks: run with ``python -m tests.benchmarks`` (or ``make bench``); never collected by pytest."""
