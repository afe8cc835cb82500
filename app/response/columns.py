"""The columns of a 5W row: their types, and the headers R4V's 5W template and partners' copies of it use
for them in Spanish, Portuguese and English. A header is matched without case, accents or punctuation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

POPULATION_TYPES = ("in_destination", "in_transit", "host_community", "pendular", "colombian_returnees")
AGE_GENDER = ("girls", "boys", "women", "men", "other_under_18", "other_over_18")
COUNT_FIELDS = ("total_beneficiaries", "new_beneficiaries", *POPULATION_TYPES, *AGE_GENDER)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | code | month | int | number | bool
    headers: tuple[str, ...]
    max_length: int = 255


COLUMNS: tuple[Column, ...] = (
    Column("country", "code", ("country", "pais", "país", "país / country", "country iso3", "iso3"), 3),
    Column(
        "admin1", "code", ("admin1", "admin 1", "adm1", "departamento", "provincia", "estado", "region"), 32
    ),
    Column("admin2", "code", ("admin2", "admin 2", "adm2", "municipio", "canton", "cantón", "distrito"), 32),
    Column("site", "code", ("site", "sitio", "lugar", "local"), 64),
    Column(
        "organisation",
        "text",
        (
            "appealing organisation",
            "appealing organization",
            "organizacion lider",
            "organización líder",
            "organizacao lider",
            "organização líder",
            "organisation",
            "organization",
            "organizacion",
        ),
    ),
    Column(
        "implementing_partner",
        "text",
        (
            "implementing partner",
            "socio implementador",
            "organizacion implementadora",
            "parceiro implementador",
            "organização implementadora",
        ),
    ),
    Column("month", "month", ("month", "mes", "mês", "reporting month", "mes de reporte")),
    Column("sector", "code", ("sector", "setor"), 64),
    Column("indicator", "code", ("indicator", "indicador", "indicator code", "codigo del indicador"), 64),
    Column("activity", "text", ("activity", "actividad", "atividade", "activity name"), 500),
    Column(
        "direct_assistance",
        "bool",
        ("direct assistance", "asistencia directa", "assistencia direta", "direct"),
    ),
    Column("cva", "bool", ("cva", "cash", "cva yes no", "transferencias monetarias", "pmv")),
    Column(
        "cva_value_usd",
        "number",
        ("value usd", "value in usd", "cva value", "valor en usd", "valor usd", "valor em usd", "monto usd"),
    ),
    Column(
        "delivery_mechanism",
        "code",
        ("delivery mechanism", "mecanismo de entrega", "mecanismo de transferencia"),
        64,
    ),
    Column(
        "output_quantity",
        "int",
        ("quantity of output", "output quantity", "cantidad de produccion", "quantidade"),
    ),
    Column(
        "total_beneficiaries",
        "int",
        (
            "total monthly beneficiaries",
            "total beneficiaries",
            "total beneficiarios mensuales",
            "total de beneficiarios",
            "total mensal de beneficiarios",
            "total beneficiarios",
        ),
    ),
    Column(
        "new_beneficiaries",
        "int",
        (
            "new beneficiaries",
            "new beneficiaries of the month",
            "nuevos beneficiarios",
            "nuevos beneficiarios del mes",
            "novos beneficiarios",
        ),
    ),
    Column(
        "in_destination",
        "int",
        ("in destination", "en destino", "refugiados y migrantes en destino", "destino"),
    ),
    Column("in_transit", "int", ("in transit", "en transito", "en tránsito", "em transito", "transito")),
    Column(
        "host_community",
        "int",
        (
            "host community",
            "host communities",
            "comunidad de acogida",
            "comunidades de acogida",
            "comunidade de acolhida",
            "comunidades de acolhida",
        ),
    ),
    Column("pendular", "int", ("pendular", "pendulars", "pendulares")),
    Column(
        "colombian_returnees",
        "int",
        ("colombian returnees", "colombianos retornados", "retornados colombianos", "retornados"),
    ),
    Column(
        "girls",
        "int",
        (
            "girls",
            "ninas",
            "niñas",
            "meninas",
            "girls <18",
            "niñas <18",
            "ninas menores de 18",
            "meninas <18",
        ),
    ),
    Column(
        "boys",
        "int",
        ("boys", "ninos", "niños", "meninos", "boys <18", "niños <18", "ninos menores de 18", "meninos <18"),
    ),
    Column(
        "women",
        "int",
        ("women", "mujeres", "mulheres", "women ≥18", "mujeres ≥18", "mujeres mayores de 18", "mulheres ≥18"),
    ),
    Column(
        "men",
        "int",
        ("men", "hombres", "homens", "men ≥18", "hombres ≥18", "hombres mayores de 18", "homens ≥18"),
    ),
    Column(
        "other_under_18",
        "int",
        ("other <18", "otro <18", "otros <18", "otro menor de 18", "otros menores de 18", "outro <18"),
    ),
    Column(
        "other_over_18",
        "int",
        (
            "other ≥18",
            "otro ≥18",
            "otros ≥18",
            "outro ≥18",
            "other over 18",
            "otro mayor de 18",
            "otros mayores de 18",
            "outro maior de 18",
        ),
    ),
)
BY_NAME = {c.name: c for c in COLUMNS}


def header_key(text: object) -> str:
    """A header as it is compared: no accents, lower case, words separated by one space."""
    raw = str(text or "")
    for sign, words in (("≥", " 18 and over "), (">=", " 18 and over "), ("<", " under ")):
        raw = raw.replace(sign + " 18", words if "18" in words else words + "18").replace(
            sign + "18", words if "18" in words else words + "18"
        )
    plain = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", plain.lower()))


HEADERS: dict[str, str] = {header_key(h): c.name for c in COLUMNS for h in (c.name, *c.headers)}


def column_for(header: object) -> str | None:
    """The column a workbook header names, or None. ``Niñas <18 / Girls`` matches through either half."""
    key = header_key(header)
    if key in HEADERS:
        return HEADERS[key]
    for part in re.split(r"[/|\n]", str(header or "")):
        name = HEADERS.get(header_key(part))
        if name is not None:
            return name
    return None


_TRUE = {"yes", "si", "sí", "sim", "true", "1", "y", "x"}
_FALSE = {"no", "nao", "não", "false", "0", "n", ""}


class CellError(ValueError):
    """A cell that cannot be read as its column's type; the message says what was expected."""


def _month(value: object) -> date:
    if isinstance(value, datetime):
        return date(value.year, value.month, 1)
    if isinstance(value, date):
        return date(value.year, value.month, 1)
    text = str(value).strip()
    for pattern in (r"^(\d{4})-(\d{1,2})(?:-\d{1,2})?$", r"^(\d{1,2})/(\d{4})$"):
        m = re.match(pattern, text)
        if m:
            year, month = (
                (int(m.group(1)), int(m.group(2)))
                if len(m.group(1)) == 4
                else (int(m.group(2)), int(m.group(1)))
            )
            if 1 <= month <= 12 and 2000 <= year <= 2100:
                return date(year, month, 1)
    raise CellError(f"{text!r} is not a month (write 2026-03, or a date in that month)")


def read_cell(column: Column, value: Any) -> Any:
    """The typed value of one cell, None for an empty one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False if column.kind == "bool" else None
    if column.kind == "month":
        return _month(value)
    if column.kind in ("int", "number"):
        if isinstance(value, bool):
            raise CellError(f"{value!r} is not a number")
        try:
            number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
        except ValueError as err:
            raise CellError(f"{value!r} is not a number") from err
        if number != number or number in (float("inf"), float("-inf")) or abs(number) > 1e12:
            raise CellError(f"{value!r} is not a usable number")
        if column.kind == "int":
            if number != int(number):
                raise CellError(f"{value!r} is not a whole number")
            return int(number)
        return number
    if column.kind == "bool":
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise CellError(f"{value!r} is not yes or no")
    text = str(value).strip()
    if "\x00" in text:
        raise CellError("the cell contains a NUL character")
    if len(text) > column.max_length:
        raise CellError(f"the value is longer than {column.max_length} characters")
    if column.name in ("country", "admin1", "admin2", "indicator"):
        return text.upper()
    if column.name in ("sector", "delivery_mechanism"):
        return "_".join(text.lower().split())
    return text


def read_row(raw: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A typed row from raw values keyed by column name, and a finding for each cell that cannot be read.
    Counts left empty are 0 (R4V's template leaves zero cells blank); direct assistance defaults to yes."""
    row: dict[str, Any] = {}
    findings: list[dict[str, Any]] = []
    for column in COLUMNS:
        try:
            value = read_cell(column, raw.get(column.name))
        except CellError as err:
            findings.append(
                {
                    "rule": "cell_type",
                    "severity": "error",
                    "field": column.name,
                    "message": f"{column.name}: {err}",
                }
            )
            value = None
        row[column.name] = value
    for name in COUNT_FIELDS:
        if row[name] is None:
            row[name] = 0
    if raw.get("direct_assistance") in (None, ""):
        row["direct_assistance"] = True
    return row, findings
