"""Paths into the shared corpus for module-level parametrisation (fixtures come too late for that)."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def corpus_file(relative: str) -> Path:
    path = CORPUS / relative
    assert path.exists(), f"missing corpus file {path}"
    return path
