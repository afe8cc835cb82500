"""The gazetteer: admin-1/admin-2 P-codes (COD-AB) and the countries they belong to, shipped as data.

``gazetteer/pcodes.csv`` keeps the columns of OCHA's global P-code list (see ``gazetteer/README.md`` for
the source and licence); ``gazetteer/countries.csv`` gives each country's ISO2 prefix and bounding box.
``parse_units`` reads a file in the same format for ``ruta gazetteer import`` and checks it;
``merge_units`` replaces the units of the countries an import covers and keeps the others;
``import_units`` does both for the CLI and the admin's upload.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).with_name("gazetteer")
UNIT_COLUMNS = ("Location", "Admin Level", "P-Code", "Name", "Parent P-Code", "Valid from date")
MAX_PCODE = 32


@dataclass(frozen=True)
class Unit:
    pcode: str
    level: int
    name: str
    parent: str  # the ISO3 for admin-1
    iso3: str
    valid_from: str = ""


@dataclass(frozen=True)
class Country:
    iso3: str
    iso2: str
    name: str
    bbox: tuple[float, float, float, float] | None  # west, south, east, north

    def contains(self, lat: float, lon: float) -> bool:
        if self.bbox is None:
            return True
        west, south, east, north = self.bbox
        return south <= lat <= north and west <= lon <= east


@dataclass
class Gazetteer:
    units: dict[str, Unit]
    countries: dict[str, Country]
    _by_iso2: dict[str, Country] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A country imported into pcodes.csv but absent from countries.csv: known, without a box.
        for unit in self.units.values():
            if unit.level == 1 and unit.iso3 not in self.countries:
                self.countries[unit.iso3] = Country(unit.iso3, unit.pcode[:2], unit.iso3, None)
        self._by_iso2 = {c.iso2: c for c in self.countries.values()}

    def unit(self, pcode: str) -> Unit | None:
        return self.units.get(pcode.strip().upper())

    def country(self, code: str) -> Country | None:
        """A country by ISO3 (``COL``) or by its COD-AB admin-0 P-code (``CO``)."""
        text = code.strip().upper()
        return self.countries.get(text) or self._by_iso2.get(text)


class GazetteerFileError(ValueError):
    """A gazetteer file that cannot be used; ``problems`` lists each with its row."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems[:5]))


def parse_units(text: str) -> list[Unit]:
    """The units of a file in the global P-code list's format, checked (GazetteerFileError otherwise)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in UNIT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise GazetteerFileError(
            [f"The file has no column {', '.join(missing)}; expected {', '.join(UNIT_COLUMNS)}."]
        )
    units: list[Unit] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        pcode = (row["P-Code"] or "").strip().upper()
        level_text = (row["Admin Level"] or "").strip()
        iso3 = (row["Location"] or "").strip().upper()
        if level_text not in ("1", "2"):
            problems.append(f"Row {number}: admin level {level_text!r} is not 1 or 2.")
            continue
        if not pcode or len(pcode) > MAX_PCODE or not pcode.isalnum():
            problems.append(
                f"Row {number}: P-code {pcode[:40]!r} is not 1 to {MAX_PCODE} letters and digits."
            )
            continue
        if len(iso3) != 3 or not iso3.isalpha():
            problems.append(f"Row {number}: location {iso3[:40]!r} is not an ISO3 country code.")
            continue
        if pcode in seen:
            problems.append(f"Row {number}: P-code {pcode} appears twice.")
            continue
        seen.add(pcode)
        units.append(
            Unit(
                pcode=pcode,
                level=int(level_text),
                name=(row["Name"] or "").strip(),
                parent=(row["Parent P-Code"] or "").strip().upper(),
                iso3=iso3,
                valid_from=(row["Valid from date"] or "").strip(),
            )
        )
    by_code = {u.pcode: u for u in units}
    for unit in units:
        parent = by_code.get(unit.parent)
        if unit.level == 1 and unit.parent != unit.iso3:
            problems.append(f"P-code {unit.pcode}: an admin-1's parent must be its country {unit.iso3}.")
        elif unit.level == 2 and (parent is None or parent.level != 1 or parent.iso3 != unit.iso3):
            problems.append(
                f"P-code {unit.pcode}: its parent {unit.parent!r} is not an admin-1 of {unit.iso3}."
            )
    if problems:
        raise GazetteerFileError(problems)
    if not units:
        raise GazetteerFileError(["The file has no units."])
    return units


def merge_units(current: Iterable[Unit], imported: list[Unit]) -> list[Unit]:
    """``imported`` replaces every unit of the countries it covers; other countries are kept."""
    covered = {u.iso3 for u in imported}
    kept = [u for u in current if u.iso3 not in covered]
    return sorted([*kept, *imported], key=lambda u: (u.iso3, u.level, u.pcode))


def units_csv(units: Iterable[Unit]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(UNIT_COLUMNS)
    for u in units:
        writer.writerow([u.iso3, u.level, u.pcode, u.name, u.parent, u.valid_from])
    return out.getvalue()


def _countries(path: Path) -> dict[str, Country]:
    found: dict[str, Country] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            edges = [row[k] for k in ("west", "south", "east", "north")]
            bbox = (
                (float(edges[0]), float(edges[1]), float(edges[2]), float(edges[3])) if all(edges) else None
            )
            found[row["iso3"]] = Country(iso3=row["iso3"], iso2=row["iso2"], name=row["name_en"], bbox=bbox)
    return found


def load(directory: Path = DATA_DIR) -> Gazetteer:
    units = parse_units((directory / "pcodes.csv").read_text(encoding="utf-8"))
    return Gazetteer(units={u.pcode: u for u in units}, countries=_countries(directory / "countries.csv"))


# The gazetteer in use: the shipped folder, or the one RUTA_GAZETTEER_DIR names (set by the app factory).
_directory = DATA_DIR


def set_directory(directory: Path) -> None:
    global _directory
    _directory = directory


def directory() -> Path:
    return _directory


@lru_cache(maxsize=2)
def _load_version(folder: Path, stamp: int) -> Gazetteer:
    return load(folder)


def shipped() -> Gazetteer:
    """The gazetteer in use, read once per version of its file: an import (``ruta gazetteer import`` or
    the admin's upload) is seen by every process reading the same folder at its next check."""
    return _load_version(_directory, (_directory / "pcodes.csv").stat().st_mtime_ns)


def import_units(folder: Path, text: str) -> tuple[list[Unit], list[Unit]]:
    """Check ``text`` (GazetteerFileError lists each problem with its row; nothing changes then), then
    replace its countries' units in ``folder``'s pcodes.csv; returns (imported, all units now)."""
    imported = parse_units(text)
    target = folder / "pcodes.csv"
    merged = merge_units(parse_units(target.read_text(encoding="utf-8")), imported)
    partial = target.with_suffix(".csv.partial")
    partial.write_text(units_csv(merged), encoding="utf-8")
    partial.replace(target)  # a reader sees the old file or the new one, never half of one
    return imported, merged
