"""Paths into the real public corpus, for the conformance tests only (`make conformance`).

The corpus is not part of this repository: it sits at ../shared/corpus beside the project (CI lays it there),
or wherever RUTA_CORPUS points. Every test that reads it is marked ``conformance`` (tests/conftest.py does it
for tests that use the ``corpus`` fixture), and `make test` leaves those out, so a clone alone passes.
"""

from __future__ import annotations

import os
from pathlib import Path

CORPUS = Path(
    os.environ.get("RUTA_CORPUS") or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
).resolve()


def corpus_available() -> bool:
    return (CORPUS / "MANIFEST.tsv").is_file()


def corpus_file(relative: str) -> Path:
    path = CORPUS / relative
    assert path.exists(), f"missing corpus file {path} (set RUTA_CORPUS to the corpus folder)"
    return path
