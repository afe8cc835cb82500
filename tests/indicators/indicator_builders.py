"""Keyword-style builders for hand-made form schemas (what ``forms`` would extract from an XForm)."""

from __future__ import annotations

from forms.schema import QUESTION, REPEAT, Choice, Field, FormSchema


def question(
    path: str,
    type_: str,
    label: str | dict[str, str] = "",
    *,
    choices: str | None = None,
    repeat: str | None = None,
    hxl: str | None = None,
    lang: str = "",
) -> Field:
    labels = label if isinstance(label, dict) else ({lang: label} if label else {})
    return Field(
        path=path,
        name=path.rsplit("/", 1)[1],
        kind=QUESTION,
        type=type_,
        labels=labels,
        choice_list=choices,
        repeat=repeat,
        hxl=hxl,
    )


def repeat(path: str, label: str = "") -> Field:
    return Field(path=path, name=path.rsplit("/", 1)[1], kind=REPEAT, type=REPEAT, labels={"": label})


def options(*items: tuple[str, str], lang: str = "") -> list[Choice]:
    return [Choice(value, {lang: label}) for value, label in items]


def schema(
    fields: list[Field], choices: dict[str, list[Choice]], *, form_id: str = "test_form"
) -> FormSchema:
    return FormSchema(
        form_id=form_id,
        version="1",
        title=form_id,
        root="data",
        languages=[],
        default_language=None,
        fields=fields,
        choices=choices,
        media=[],
    )
