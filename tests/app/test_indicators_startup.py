"""The indicator catalogue is validated when the app starts: a broken edit stops start-up, clearly."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from app.indicators.catalog import CATALOG_DIR


def test_app_starts_with_the_shipped_catalogue(app_config: dict[str, Any]) -> None:
    assert create_app(app_config).name == "app"


def test_a_broken_catalogue_stops_start_up_naming_the_problem(
    app_config: dict[str, Any], tmp_path: Path
) -> None:
    broken = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, broken)
    path = broken / "indicators.yaml"
    path.write_text(path.read_text().replace("unit: pct", "unit: percent", 1))
    with pytest.raises(RuntimeError) as caught:
        create_app(app_config | {"INDICATOR_CATALOG_DIR": str(broken)})
    message = str(caught.value)
    assert "indicator catalogue is invalid" in message
    assert "indicators.yaml" in message and "percent" in message
