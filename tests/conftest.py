"""Fixtures shared by the whole suite. Database fixtures live in tests/app/conftest.py.

Tests that read the real public corpus (../shared/corpus, or RUTA_CORPUS) are the conformance suite: they are
marked ``conformance`` here, whether they ask for the ``corpus`` fixture (directly or through another fixture)
or carry the mark themselves. `make test` runs ``-m "not conformance"`` on the project's own fixtures
(tests/data); `make conformance` runs the rest against the corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus_paths import CORPUS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"the conformance corpus is expected at {CORPUS} (set RUTA_CORPUS)"
    return CORPUS
