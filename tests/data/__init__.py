"""Ruta's own test fixtures: forms written by hand, XLSForms and an encrypted submission written by make.py.

The suite reads only these (and what tests build themselves), so a clone of the repository alone passes it;
the real public corpus in ../shared/corpus is read only by tests marked ``conformance`` (`make conformance`).
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent


def data_file(relative: str) -> Path:
    """A fixture file under tests/data/, e.g. ``data_file("forms/simple.xml")``."""
    path = DATA / relative
    assert path.is_file(), f"missing test fixture {path}"
    return path


def data_bytes(relative: str) -> bytes:
    return data_file(relative).read_bytes()
