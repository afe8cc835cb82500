"""Fixtures for the pure ``forms`` tests: the corpus manifest, cached conversions, XLSForm builders.

Parametrising needs the corpus file list at collection time, so the manifest is read through
``tests.corpus_paths``; the files themselves are opened through the ``corpus`` fixture in each test.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from forms.errors import XLSFormError
from forms.xlsform import Conversion, convert
from tests.corpus_paths import CORPUS

MANIFEST = CORPUS / "MANIFEST.tsv"
XLSFORM_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".md")


def manifest_rows() -> list[dict[str, str]]:
    if not MANIFEST.is_file():  # no corpus beside the clone: the conformance tests are not run at all
        return []
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def corpus_xlsforms(*, verdict: str | None = None) -> list[str]:
    """Corpus XLSForms (MANIFEST kind ``xlsform``); ``verdict`` "OK" or "FAIL" filters on pyxform's result."""
    names = []
    for row in manifest_rows():
        if row["kind"] != "xlsform" or not row["file"].endswith(XLSFORM_SUFFIXES):
            continue
        result = row["pyxform_4.5.0"]
        if verdict is None or result.split("/")[0] == verdict:
            names.append(row["file"])
    return names


def corpus_xforms() -> list[str]:
    return [row["file"] for row in manifest_rows() if row["kind"] == "xform"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over corpus files by argument name: ``ok_xlsform``, ``failing_xlsform``,
    ``any_xlsform`` and ``corpus_xform`` (relative names inside the corpus)."""
    sources = {
        "ok_xlsform": lambda: corpus_xlsforms(verdict="OK"),
        "failing_xlsform": lambda: corpus_xlsforms(verdict="FAIL"),
        "any_xlsform": corpus_xlsforms,
        "corpus_xform": corpus_xforms,
    }
    for argument, source in sources.items():
        if argument in metafunc.fixturenames:
            metafunc.parametrize(argument, source())


@pytest.fixture(scope="session")
def converted(corpus: Path) -> Callable[[str], Conversion]:
    """Convert a corpus XLSForm once per session (the big ones take seconds); errors are re-raised."""
    cache: dict[str, Conversion | XLSFormError] = {}

    def get(name: str) -> Conversion:
        if name not in cache:
            try:
                cache[name] = convert((corpus / name).read_bytes(), filename=Path(name).name)
            except XLSFormError as err:
                cache[name] = err
        result = cache[name]
        if isinstance(result, XLSFormError):
            raise result
        return result

    return get


@pytest.fixture
def make_xlsx() -> Callable[..., bytes]:
    """``make_xlsx(survey_rows, choices=..., settings=...)`` -> XLSX bytes (see ``build_xlsx``)."""
    return build_xlsx


def build_xlsx(
    survey: list[list[str]],
    *,
    choices: list[list[str]] | None = None,
    settings: list[list[str]] | None = None,
    survey_title: str = "survey",
) -> bytes:
    """A minimal XLSForm workbook made in memory: each sheet is a header row followed by rows."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = survey_title
    for row in survey:
        sheet.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows:
            extra = workbook.create_sheet(title)
            for row in rows:
                extra.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
