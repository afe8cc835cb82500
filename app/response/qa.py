"""The 5W QA rules, read from ``rules.yaml`` and checked against ``reference.yaml`` (both data, editable).

``check(row)`` returns the row's findings: ``{"rule", "severity", "field", "message"}`` with the message in
the language asked for. A rule of a kind this module does not know is refused when the rules are loaded, so
an edited rule file that says something the checker cannot do fails at start-up, not silently."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "es", "pt")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
PCODE = re.compile(r"^[A-Z]{2}[0-9A-Z]+$")


class RuleFileError(ValueError):
    """The rule or reference file says something the checker cannot do."""


@dataclass(frozen=True)
class Reference:
    sectors: dict[str, frozenset[str]]
    lists: dict[str, frozenset[str]]
    admin1: dict[str, frozenset[str]]


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    severity: str
    message: dict[str, str]
    spec: dict[str, Any]

    def applies(self, row: Mapping[str, Any]) -> bool:
        return all(row.get(k) == v for k, v in (self.spec.get("when") or {}).items())

    def say(self, language: str, **values: Any) -> str:
        template = self.message.get(language) or self.message["en"]
        return template.format(**values)


KINDS = {
    "required",
    "empty",
    "compare",
    "sum_equals",
    "in_list",
    "admin_code",
    "sector_indicator",
    "not_same",
    "non_negative",
}


def load_reference(path: Path | None = None) -> Reference:
    data = yaml.safe_load((path or HERE / "reference.yaml").read_text(encoding="utf-8"))
    sectors = {str(k): frozenset(str(i) for i in v) for k, v in (data.get("sectors") or {}).items()}
    lists = {
        "countries": frozenset(str(c) for c in data.get("countries") or ()),
        "delivery_mechanisms": frozenset(str(c) for c in data.get("delivery_mechanisms") or ()),
        "sectors": frozenset(sectors),
    }
    admin1 = {str(k): frozenset(str(c) for c in v) for k, v in (data.get("admin1") or {}).items()}
    return Reference(sectors=sectors, lists=lists, admin1=admin1)


def load_rules(path: Path | None = None, reference: Reference | None = None) -> tuple[Rule, ...]:
    data = yaml.safe_load((path or HERE / "rules.yaml").read_text(encoding="utf-8"))
    ref = reference or load_reference()
    rules = []
    for spec in data.get("rules") or ():
        kind = spec.get("kind")
        if kind not in KINDS:
            raise RuleFileError(f"rule {spec.get('id')!r}: unknown kind {kind!r} (known: {sorted(KINDS)})")
        if spec.get("severity") not in ("error", "warning"):
            raise RuleFileError(f"rule {spec.get('id')!r}: severity must be error or warning")
        if kind == "in_list" and spec.get("list") not in ref.lists:
            raise RuleFileError(f"rule {spec['id']!r}: no reference list {spec.get('list')!r}")
        if "en" not in (spec.get("message") or {}):
            raise RuleFileError(f"rule {spec.get('id')!r}: an English message is required")
        rules.append(
            Rule(
                id=str(spec["id"]),
                kind=kind,
                severity=spec["severity"],
                message={str(k): str(v) for k, v in spec["message"].items()},
                spec=spec,
            )
        )
    return tuple(rules)


@cache
def default_rules() -> tuple[tuple[Rule, ...], Reference]:
    reference = load_reference()
    return load_rules(reference=reference), reference


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _findings(rule: Rule, row: Mapping[str, Any], ref: Reference, language: str) -> list[dict[str, Any]]:
    spec = rule.spec
    out: list[tuple[str, str]] = []  # (field, message)
    if rule.kind == "required":
        out += [(f, rule.say(language, field=f)) for f in spec["fields"] if _empty(row.get(f))]
    elif rule.kind == "empty":
        out += [(f, rule.say(language, field=f)) for f in spec["fields"] if not _empty(row.get(f))]
    elif rule.kind == "non_negative":
        out += [
            (f, rule.say(language, field=f))
            for f in spec["fields"]
            if isinstance(row.get(f), int | float) and row[f] < 0
        ]
    elif rule.kind == "compare":
        left, right = row.get(spec["left"]), row.get(spec["right"])
        if left is not None and right is not None and not OPERATORS[spec["op"]](left, right):
            out.append((spec["left"], rule.say(language, left=left, right=right)))
    elif rule.kind == "sum_equals":
        total = row.get(spec["total"]) or 0
        summed = sum(row.get(f) or 0 for f in spec["fields"])
        if summed != total:
            out.append((spec["total"], rule.say(language, sum=summed, total=total)))
    elif rule.kind == "in_list":
        value = row.get(spec["field"])
        if not _empty(value) and value not in ref.lists[spec["list"]]:
            out.append((spec["field"], rule.say(language, value=value)))
    elif rule.kind == "admin_code":
        country = str(row.get("country") or "")
        known = ref.admin1.get(country)
        admin1, admin2 = str(row.get("admin1") or ""), str(row.get("admin2") or "")
        for field, value in (("admin1", admin1), ("admin2", admin2)):
            if not value:
                continue
            bad = not PCODE.match(value) or not value.startswith(_country_prefix(country, known))
            if field == "admin1" and known is not None:
                bad = bad or value not in known
            if field == "admin2" and admin1:
                bad = bad or not value.startswith(admin1) or len(value) <= len(admin1)
            if bad:
                out.append((field, rule.say(language, field=field, value=value, country=country)))
    elif rule.kind == "sector_indicator":
        sector, indicator = str(row.get("sector") or ""), str(row.get("indicator") or "")
        if (
            not _empty(sector)
            and not _empty(indicator)
            and indicator not in ref.sectors.get(sector, frozenset())
        ):
            out.append(("indicator", rule.say(language, sector=sector, indicator=indicator)))
    elif rule.kind == "not_same":
        a, b = (row.get(f) for f in spec["fields"])
        if not _empty(a) and not _empty(b) and str(a).strip().lower() == str(b).strip().lower():
            out.append((spec["fields"][0], rule.say(language)))
    return [{"rule": rule.id, "severity": rule.severity, "field": f, "message": m} for f, m in out]


def _country_prefix(country: str, known: frozenset[str] | None) -> str:
    """The two letters a country's P-codes start with: from its listed codes, else its ISO3's first two."""
    if known:
        return next(iter(known))[:2]
    return (country or "")[:2]


def check(
    row: Mapping[str, Any],
    *,
    language: str = "en",
    rules: tuple[Rule, ...] | None = None,
    reference: Reference | None = None,
) -> list[dict[str, Any]]:
    """Every finding of every rule that applies to the row."""
    if rules is None or reference is None:
        rules, reference = default_rules()
    return [f for rule in rules if rule.applies(row) for f in _findings(rule, row, reference, language)]


def has_error(findings: list[dict[str, Any]]) -> bool:
    return any(f["severity"] == "error" for f in findings)
