"""Reading the catalogue's YAML files, reporting a missing or malformed file as a catalogue problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.indicators.errors import ProblemLog

# libyaml's loader is several times faster; the catalogue is read at every start-up.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, name: str, log: ProblemLog) -> Any:
    """The parsed document, or None after recording why it could not be read under ``name``."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    except FileNotFoundError:
        log.add(name, "", "file is missing")
    except yaml.YAMLError as exc:
        log.add(name, "", f"not valid YAML: {exc}")
    return None
