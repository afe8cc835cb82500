"""The one sensitivity rule every output uses."""

from __future__ import annotations

from app.models import Project
from app.services.protection import sensitive
from forms.schema import Field, FormSchema


def _schema() -> FormSchema:
    fields = [
        Field(path="/data/name", name="name", kind="question", type="string", sensitive=True),
        Field(path="/data/age", name="age", kind="question", type="int"),
        Field(path="/data/contact", name="contact", kind="group", type="group"),
        Field(path="/data/contact/phone", name="phone", kind="question", type="string"),
        Field(path="/data/contactless", name="contactless", kind="question", type="string"),
    ]
    return FormSchema("f", "1", "F", "data", [], None, fields, {}, [])


def test_form_and_project_marks_and_children() -> None:
    project = Project(settings={"sensitive_fields": ["contact"]})
    paths = sensitive.sensitive_paths(_schema(), project)
    assert paths == {"/data/name", "/data/contact", "/data/contact/phone"}
    assert sensitive.sensitive_paths(_schema(), Project(settings={})) == {"/data/name"}


def test_pseudonyms_are_stable_per_project_and_differ_across_projects() -> None:
    k1 = sensitive.pseudonym_key("secret", 1)
    k2 = sensitive.pseudonym_key("secret", 2)
    assert sensitive.pseudonym(k1, "Ana Pérez") == sensitive.pseudonym(k1, " Ana Pérez ")
    assert sensitive.pseudonym(k1, "Ana Pérez") != sensitive.pseudonym(k2, "Ana Pérez")
    assert sensitive.pseudonym(k1, "Ana Pérez").startswith("ps_")
    assert "Ana" not in sensitive.pseudonym(k1, "Ana Pérez")
