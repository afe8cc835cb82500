"""Sensitivity classes (an information sharing protocol's: public, restricted, confidential, strictly
confidential) on forms, fields and outputs, and the rule that refuses a share beyond the class.

- A form has a class (``forms.sensitivity``, 'restricted' unless set): its microdata's class.
- A field may be classed higher (``settings["fieldClasses"]``: question name or path -> class). A
  microdata output's class is the highest of the form's and of every classed field of the form.
- Aggregated outputs (indicator tables) carry ``settings["indicatorClass"]`` (default 'restricted');
  a project's indicator output takes the highest of its forms'.
- A request may say at which class it will share the output (``shareClass``: an export link for a
  partner, a hub, HDX as 'public'). A share at a lower class than the output's is refused: data
  classed confidential never goes out as public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import ForbiddenError, InvalidValueError
from app.models import Form
from app.models.form import SENSITIVITY_CLASSES
from app.services.audit import events as audit

DEFAULT_CLASS = "restricted"
LABELS = {
    "public": "PUBLIC",
    "restricted": "RESTRICTED",
    "confidential": "CONFIDENTIAL",
    "strictly_confidential": "STRICTLY CONFIDENTIAL",
}
HEADER = "X-Ruta-Classification"


class ShareBeyondClassError(ForbiddenError):
    code = "403.60"
    default_message = "This output's sensitivity class does not allow the share requested."


def rank(value: str) -> int:
    return SENSITIVITY_CLASSES.index(value)


def check_class(value: Any, field: str) -> str:
    if not isinstance(value, str) or value not in SENSITIVITY_CLASSES:
        raise InvalidValueError(
            f"{field} must be one of: {', '.join(SENSITIVITY_CLASSES)}.", details={"field": field}
        )
    return value


def highest(classes: Iterable[str]) -> str:
    return max(classes, key=rank, default=DEFAULT_CLASS)


def field_classes(form: Form) -> dict[str, str]:
    raw = (form.settings or {}).get("fieldClasses", {})
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if v in SENSITIVITY_CLASSES}


def indicator_class(form: Form) -> str:
    value = (form.settings or {}).get("indicatorClass")
    return value if value in SENSITIVITY_CLASSES else DEFAULT_CLASS


def microdata_class(form: Form) -> str:
    """The class of a microdata output of ``form``: the form's, raised by any classed field."""
    return highest([form.sensitivity or DEFAULT_CLASS, *field_classes(form).values()])


def project_indicator_class(forms: Iterable[Form]) -> str:
    return highest(indicator_class(f) for f in forms)


def project_microdata_class(forms: Iterable[Form]) -> str:
    """The class of a project's microdata as a whole: what a partner share or a hub receives."""
    return highest(microdata_class(f) for f in forms)


def check_project_share(session: Session, project_id: int, requested: str | None, *, what: str) -> None:
    """``check_share`` for handing a whole project's microdata to another holder (a partner, a hub)."""
    if requested is None:
        return
    forms = session.scalars(sa.select(Form).where(Form.project_id == project_id))
    check_share(requested, project_microdata_class(forms), what=what)


def check_share(requested: str | None, output_class: str, *, what: str) -> None:
    """Refuse ``requested`` (the class the requester will share at) when it is below the output's."""
    if requested is None:
        return
    check_class(requested, "shareClass")
    if rank(requested) < rank(output_class):
        raise ShareBeyondClassError(
            f"This {what} is classed {LABELS[output_class]}; it cannot be shared as {LABELS[requested]}. "
            f"Ask for shareClass={output_class} or higher, or share an aggregated output instead.",
            details={"class": output_class, "requested": requested},
        )


def readme(form: Form, output_class: str) -> str:
    """The README.txt of a zip export: its class first, then what the class means for the reader."""
    return (
        f"Sensitivity class: {LABELS[output_class]}\n"
        f"Form: {form.xml_form_id}\n\n"
        "This file holds records of people collected under an information sharing protocol. Share it only\n"
        f"with those the {LABELS[output_class]} class allows, and delete it when no longer needed.\n"
    )


def update(session: Session, *, actor: Actor, form: Form, data: dict[str, Any]) -> None:
    """Set the form's class, field classes and indicator class (PATCH .../forms/{id})."""
    before = {
        "sensitivity": form.sensitivity,
        "fieldClasses": field_classes(form),
        "indicatorClass": indicator_class(form),
    }
    settings = dict(form.settings or {})
    if "sensitivity" in data:
        form.sensitivity = check_class(data["sensitivity"], "sensitivity")
    if "fieldClasses" in data:
        raw = data["fieldClasses"]
        if not isinstance(raw, dict) or not all(isinstance(k, str) and 0 < len(k) <= 255 for k in raw):
            raise InvalidValueError(
                'fieldClasses is an object of question name -> class, e.g. {"age": "confidential"}.',
                details={"field": "fieldClasses"},
            )
        settings["fieldClasses"] = {k: check_class(v, f"fieldClasses.{k}") for k, v in raw.items()}
    if "indicatorClass" in data:
        settings["indicatorClass"] = check_class(data["indicatorClass"], "indicatorClass")
    form.settings = settings
    after = {
        "sensitivity": form.sensitivity,
        "fieldClasses": field_classes(form),
        "indicatorClass": indicator_class(form),
    }
    audit.record(
        session,
        actor=actor,
        action="form.classification",
        project_id=form.project_id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={"from": before, "to": after},
    )
    session.flush()
