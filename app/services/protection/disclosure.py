"""The microdata risk check run before records leave the owning organisation (docs/DISCLOSURE.md).

A form declares its quasi-identifiers (``settings["quasiIdentifiers"]``): answers that are not a name
or a document number but that, combined, can single a person out (age, sex, nationality, site, date of
arrival). On the exact rows an export selects, records with equal values of all quasi-identifiers
form an equivalence class; a record in a class of fewer than ``k`` records (default 3) is *at risk*.

- ``k-anonymity``: the size of the smallest class (the export is k-anonymous for that k);
- ``recordsAtRisk``: records in classes of size < k; ``globalRisk`` = recordsAtRisk / records.

Above the threshold (``riskThreshold``, default 0.03 as HDX's 3 % global risk) an export asked to run
the check is refused with the figures, and the generalisation each quasi-identifier allows (age in
bands, the month of a date, the admin-1 unit of a site) is proposed with the risk it would leave.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError, RutaError
from app.models import Form, Submission, SubmissionVersion
from app.services.audit import events as audit
from app.services.exports import tables as exports
from app.services.protection import record_scope, row_access
from forms.schema import FormSchema

DEFAULT_K = 3
DEFAULT_THRESHOLD = 0.03
GENERALISERS = ("age_band", "month", "admin1")
# Age bands of humanitarian disaggregation (children under 5, 5-11, 12-17, adults, older persons).
AGE_BANDS = ((0, 4), (5, 11), (12, 17), (18, 59), (60, None))
_PCODE = re.compile(r"^([A-Za-z]{2}\d{2})\d+$")


class DisclosureRiskError(RutaError):
    """The export's records are too easy to re-identify; ``details`` has the figures and a proposal."""

    code, status = "422.60", 422
    default_message = "The share of records at risk of re-identification is above the threshold."


@dataclass(frozen=True)
class QuasiIdentifier:
    field: str  # question name
    generalise: str | None = None  # one of GENERALISERS
    admin1_field: str | None = None  # for admin1: the question holding the site's admin-1 unit

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "generalise": self.generalise, "admin1Field": self.admin1_field}


@dataclass(frozen=True)
class Risk:
    records: int
    k: int
    k_anonymity: int  # the smallest class size (0 when there are no records)
    classes: int
    records_at_risk: int

    @property
    def global_risk(self) -> float:
        return self.records_at_risk / self.records if self.records else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "k": self.k,
            "kAnonymity": self.k_anonymity,
            "equivalenceClasses": self.classes,
            "recordsAtRisk": self.records_at_risk,
            "globalRisk": round(self.global_risk, 6),
        }


def measure(keys: Iterable[tuple[Any, ...]], *, k: int = DEFAULT_K) -> Risk:
    """The figures for records given as their quasi-identifier tuples (pure; see the module doc)."""
    sizes = Counter(keys)
    records = sum(sizes.values())
    at_risk = sum(n for n in sizes.values() if n < k)
    return Risk(records, k, min(sizes.values(), default=0), len(sizes), at_risk)


def age_band(value: Any) -> Any:
    try:
        age = int(float(value))
    except (TypeError, ValueError):
        return value
    for low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return value


def month(value: Any) -> Any:
    text = str(value) if value is not None else ""
    try:
        return date.fromisoformat(text[:10]).strftime("%Y-%m")
    except ValueError:
        return value


def admin1(value: Any, record: dict[str, Any], qi: QuasiIdentifier, paths: dict[str, str]) -> Any:
    if qi.admin1_field:
        return _value(record, paths.get(qi.admin1_field))
    match = _PCODE.match(str(value or ""))
    return match.group(1) if match else value


def generalised(value: Any, record: dict[str, Any], qi: QuasiIdentifier, paths: dict[str, str]) -> Any:
    if qi.generalise == "age_band":
        return age_band(value)
    if qi.generalise == "month":
        return month(value)
    if qi.generalise == "admin1":
        return admin1(value, record, qi, paths)
    return value


def declared(form: Form) -> list[QuasiIdentifier]:
    raw = (form.settings or {}).get("quasiIdentifiers", [])
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            out.append(QuasiIdentifier(item))
        elif isinstance(item, dict) and isinstance(item.get("field"), str):
            out.append(QuasiIdentifier(item["field"], item.get("generalise"), item.get("admin1Field")))
    return out


def settings_of(form: Form) -> tuple[int, float]:
    s = form.settings or {}
    k = s.get("riskK", DEFAULT_K)
    threshold = s.get("riskThreshold", DEFAULT_THRESHOLD)
    return int(k), float(threshold)


def update(
    session: Session, *, actor: Actor, form: Form, schema: FormSchema | None, data: dict[str, Any]
) -> None:
    """Declare quasi-identifiers, k and the threshold (PATCH .../forms/{id}); names are checked against
    the published form's questions outside repeats."""
    settings = dict(form.settings or {})
    names = {f.name for f in schema.fields if f.repeat is None} if schema is not None else set()
    if "quasiIdentifiers" in data:
        raw = data["quasiIdentifiers"]
        if not isinstance(raw, list):
            raise _bad("quasiIdentifiers", "quasiIdentifiers is a list of question names or objects.")
        parsed: list[dict[str, Any]] = []
        for item in raw:
            qi = QuasiIdentifier(item) if isinstance(item, str) else None
            if isinstance(item, dict) and set(item) <= {"field", "generalise", "admin1Field"}:
                qi = QuasiIdentifier(
                    str(item.get("field", "")), item.get("generalise"), item.get("admin1Field")
                )
            if qi is None or qi.field not in names:
                raise _bad("quasiIdentifiers", f"{item!r} is not a question of this form (outside repeats).")
            if qi.generalise is not None and qi.generalise not in GENERALISERS:
                raise _bad("quasiIdentifiers", f"generalise is one of: {', '.join(GENERALISERS)}.")
            if qi.admin1_field is not None and qi.admin1_field not in names:
                raise _bad(
                    "quasiIdentifiers", f"admin1Field {qi.admin1_field!r} is not a question of this form."
                )
            parsed.append(qi.to_json())
        settings["quasiIdentifiers"] = parsed
    if "riskK" in data:
        k = data["riskK"]
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 100:
            raise _bad("riskK", "riskK is a whole number from 2 to 100.")
        settings["riskK"] = k
    if "riskThreshold" in data:
        t = data["riskThreshold"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1:
            raise _bad("riskThreshold", "riskThreshold is the share of records at risk allowed, from 0 to 1.")
        settings["riskThreshold"] = float(t)
    form.settings = settings
    audit.record(
        session,
        actor=actor,
        action="form.disclosure",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={k: settings.get(k) for k in ("quasiIdentifiers", "riskK", "riskThreshold")},
    )
    session.flush()


def _bad(field_name: str, message: str) -> InvalidValueError:
    return InvalidValueError(message, details={"field": field_name})


def _value(values: dict[str, Any], path: str | None) -> Any:
    if path is None:
        return None
    node: Any = values
    for step in path.strip("/").split("/")[1:]:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return None if node in ("", []) else node


@dataclass(frozen=True)
class Check:
    quasi_identifiers: list[QuasiIdentifier]
    threshold: float
    risk: Risk
    generalised: Risk | None  # None when no quasi-identifier allows a generalisation

    @property
    def passes(self) -> bool:
        return self.risk.global_risk <= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "quasiIdentifiers": [q.to_json() for q in self.quasi_identifiers],
            "threshold": self.threshold,
            "passes": self.passes,
            **self.risk.to_json(),
            "proposal": None
            if self.generalised is None
            else {
                "generalise": [q.to_json() for q in self.quasi_identifiers if q.generalise],
                "passes": self.generalised.global_risk <= self.threshold,
                **self.generalised.to_json(),
            },
        }


def check(session: Session, export: exports.Export) -> Check:
    """The figures on the rows ``export`` selects (its form, review states, dates, versions; of the rows
    its asker may see; trashed rows never), over the quasi-identifiers the export carries (a sensitive
    one it omits is none)."""
    form = export.form
    k, threshold = settings_of(form)
    paths = {f.name: f.path for f in export.schema.fields if f.repeat is None}
    omitted = export.sensitive_paths if export.options.sensitive == "omit" else frozenset()
    qis = [q for q in declared(form) if q.field in paths and paths[q.field] not in omitted]
    if not qis:
        raise InvalidValueError(
            "This form declares no quasi-identifiers the export carries; declare quasiIdentifiers on the "
            "form (PATCH .../forms/{id}) before asking for a risk check.",
            details={"field": "quasiIdentifiers"},
        )
    query = (
        sa.select(SubmissionVersion.values)
        .select_from(Submission)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(record_scope.visible())
    )
    query = exports.selected(query, form.id, export.options, export.version_ids, export.rows)
    plain, general = [], []
    for values in session.scalars(query.execution_options(yield_per=1000)):
        record = values or {}
        raw = [_value(record, paths[q.field]) for q in qis]
        plain.append(tuple(_key(v) for v in raw))
        general.append(tuple(_key(generalised(v, record, q, paths)) for v, q in zip(raw, qis, strict=True)))
    risk = measure(plain, k=k)
    proposal = measure(general, k=k) if any(q.generalise for q in qis) else None
    return Check(qis, threshold, risk, proposal)


def _key(value: Any) -> Any:
    # Missing answers form their own value (a conservative choice: sdcMicro would let them match any).
    return "" if value is None else str(value)


def enforce(result: Check) -> None:
    if result.passes:
        return
    pct = f"{result.risk.global_risk:.1%}"
    message = (
        f"{result.risk.records_at_risk} of {result.risk.records} records ({pct}) are in groups of fewer than "
        f"{result.risk.k} records sharing the same quasi-identifiers; the limit is {result.threshold:.1%}."
    )
    if result.generalised is not None:
        rules = ", ".join(f"{q.field}: {q.generalise}" for q in result.quasi_identifiers if q.generalise)
        message += f" Generalising ({rules}) would leave {result.generalised.global_risk:.1%} at risk."
    raise DisclosureRiskError(message, details=result.to_json())


def leaves_organisation(session: Session, actor: Actor, export: exports.Export) -> bool:
    """Whether ``export`` hands rows to an organisation that did not collect them: its asker is not of
    the project's owning organisation (a partner's person, a coordinator granted the rows) and some of
    the rows it selects were collected for another organisation. The owners are the project's data
    controller and the administrator runs the system: neither is a share by this rule."""
    if row_access.sees_all_rows(session, actor, export.project):
        return False
    org = actor.user.organisation_id if actor.user is not None else None
    foreign = sa.select(Submission.id).where(record_scope.visible())
    foreign = exports.selected(foreign, export.form.id, export.options, export.version_ids, export.rows)
    if org is not None:
        foreign = foreign.where(Submission.organisation_id != org)
    return session.scalar(foreign.limit(1)) is not None


def guard(
    session: Session, *, actor: Actor, export: exports.Export, asked: bool, share_class: str | None, fmt: str
) -> Check | None:
    """The risk check every microdata export goes through, in one place: run when asked (riskCheck),
    when the microdata are shared as public, and always when the rows leave the organisation that
    collected them (``leaves_organisation``; fail closed: a form that declares no quasi-identifiers
    cannot be exported to another organisation). Audited whether it passes or not; raises 422 above the
    threshold. The caller commits the audit event before raising, so the refusal is on record."""
    crossing = leaves_organisation(session, actor, export)
    if not (asked or share_class == "public" or crossing):
        return None
    try:
        result = check(session, export)
    except InvalidValueError as error:
        if not crossing:
            raise
        raise InvalidValueError(
            "These rows were collected by another organisation, so their disclosure risk is checked "
            f"before they are exported. {error.message}",
            details=error.details,
        ) from error
    audit.record(
        session,
        actor=actor,
        action="submission.risk_check",
        project_id=export.project.id,
        subject_type="form",
        subject_id=export.form.xml_form_id,
        details={"format": fmt, "crossesOrganisations": crossing, **result.to_json()},
    )
    return result
