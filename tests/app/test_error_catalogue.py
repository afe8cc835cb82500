"""The error catalogue: every code names one error, and its integer part is its HTTP status."""

from __future__ import annotations

import importlib
import pkgutil
import re

import app
from app.errors import RutaError


def _all_errors() -> list[type[RutaError]]:
    # Errors defined beside their service (DecryptionFailedError, WarningsError) count too: import all.
    for module in pkgutil.walk_packages(app.__path__, "app."):
        importlib.import_module(module.name)
    found, todo = [], [RutaError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_error_codes_are_unique_and_carry_their_status() -> None:
    errors = _all_errors()
    assert len(errors) > 40
    by_code: dict[str, list[str]] = {}
    for cls in errors:
        by_code.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
        assert re.fullmatch(r"[1-5][0-9]{2}\.[0-9]+", cls.code), cls
        assert int(cls.code.split(".")[0]) == cls.status, cls
    assert {code: names for code, names in by_code.items() if len(names) > 1} == {}
