"""Fixtures for the indicator core tests."""

from __future__ import annotations

import pytest

from app.indicators.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
