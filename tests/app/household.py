"""A household survey written for the hub-link tests and benchmark: a form with a repeat of members and
instances of about 7-8 KB each (the size of the field household form), generated from a seed so that
answers vary the way real ones do (names, ages, coordinates, free text) and compress like them."""

from __future__ import annotations

import random

FIELDS = [
    ("region", "string"), ("district", "string"), ("village", "string"), ("enumerator", "string"),
    ("interview_date", "date"), ("gps", "geopoint"), ("respondent_name", "string"),
    ("respondent_phone", "phone"), ("dwelling_type", "select1"), ("roof_material", "select1"),
    ("wall_material", "select1"), ("floor_material", "select1"), ("water_source", "select1"),
    ("water_minutes", "int"), ("toilet_type", "select1"), ("cooking_fuel", "select1"),
    ("electricity", "select1"), ("assets", "select"), ("land_hectares", "decimal"),
    ("livestock_cattle", "int"), ("livestock_goats", "int"), ("livestock_poultry", "int"),
    ("income_main_source", "select1"), ("income_monthly", "int"), ("food_insecure_days", "int"),
    ("migration_last_year", "select1"), ("crossing_point", "string"), ("remittances", "select1"),
    ("notes", "string"),
]  # fmt: skip
MEMBER_FIELDS = [
    ("member_name", "string"), ("member_sex", "select1"), ("member_age", "int"),
    ("member_relation", "select1"), ("member_school", "select1"), ("member_work", "select1"),
    ("member_disability", "select1"), ("member_document", "select1"), ("member_notes", "string"),
]  # fmt: skip


def _words(text: str) -> list[str]:
    return text.split()


NAMES = _words("Ana Luis Rosa Jorge Carmen Pedro Lucia Miguel Elena Juan Sofia Diego Marta Pablo Nina Raul")
SURNAMES = _words("Quispe Mamani Condori Huanca Flores Rojas Torres Vargas Chambi Yupanqui Ticona Apaza")
CHOICES = _words("yes no dont_know brick adobe wood metal concrete earth tile piped well river truck")
SYLLABLES = _words("ta pa chi hua ma qui co ri lla nu ka sa yu pi to ran mar")
WORDS = _words(
    "the household reports that water is scarce during the dry season and the children walk to "
    "school across the border crossing every day when the road is open market prices rose"
)


def _binds(prefix: str, fields: list[tuple[str, str]]) -> str:
    return "".join(f'<bind nodeset="{prefix}/{n}" type="{t}"/>' for n, t in fields)


def household_form(form_id: str = "household", version: str = "1") -> bytes:
    members = "".join(f"<{n}/>" for n, _ in MEMBER_FIELDS)
    top = "".join(f"<{n}/>" for n, _ in FIELDS)
    body = "".join(f'<input ref="/data/{n}"><label>{n}</label></input>' for n, _ in FIELDS)
    body += '<group ref="/data/member"><label>Members</label><repeat nodeset="/data/member">'
    body += "".join(f'<input ref="/data/member/{n}"><label>{n}</label></input>' for n, _ in MEMBER_FIELDS)
    body += '</repeat></group><upload ref="/data/photo" mediatype="image/*"><label>Photo</label></upload>'
    return (
        '<?xml version="1.0"?>\n<h:html xmlns="http://www.w3.org/2002/xforms" '
        'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">'
        f'<h:head><h:title>Household survey</h:title><model><instance><data id="{form_id}" '
        f'version="{version}">{top}<member jr:template="">{members}</member><photo/>'
        "<meta><instanceID/></meta></data></instance>"
        f"{_binds('/data', FIELDS)}{_binds('/data/member', MEMBER_FIELDS)}"
        '<bind nodeset="/data/photo" type="binary"/>'
        '<bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>'
        f"</model></h:head><h:body>{body}</h:body></h:html>"
    ).encode()


def _answer(rng: random.Random, kind: str) -> str:
    if kind == "int":
        return str(rng.randint(0, 90))
    if kind == "decimal":
        return f"{rng.uniform(0, 20):.2f}"
    if kind == "date":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "geopoint":
        return f"{rng.uniform(-2, 1):.6f} {rng.uniform(-78, -77):.6f} {rng.uniform(2000, 3500):.1f} 4.5"
    if kind in {"select1", "select"}:
        return " ".join(rng.sample(CHOICES, 1 if kind == "select1" else 3))
    if kind == "phone":
        return f"+593 9{rng.randint(10_000_000, 99_999_999)}"
    return f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}"


def _text(rng: random.Random, words: int) -> str:
    """Free text: common words mixed with made-up place names and figures, as field notes are."""
    out = []
    for _ in range(words):
        roll = rng.random()
        if roll < 0.15:
            out.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize())
        elif roll < 0.22:
            out.append(str(rng.randint(1, 5000)))
        else:
            out.append(rng.choice(WORDS))
    return " ".join(out)


def household_instance(
    instance_id: str, seed: int, *, photo: str = "", form_id: str = "household", version: str = "1"
) -> bytes:
    rng = random.Random(seed)
    parts = [f'<data xmlns:jr="http://openrosa.org/javarosa" id="{form_id}" version="{version}">']
    for name, kind in FIELDS:
        value = _text(rng, rng.randint(150, 300)) if name == "notes" else _answer(rng, kind)
        parts.append(f"<{name}>{value}</{name}>")
    for _ in range(rng.randint(5, 14)):
        parts.append("<member>")
        parts += [f"<{n}>{_answer(rng, k)}</{n}>" for n, k in MEMBER_FIELDS[:-1]]
        parts.append(f"<member_notes>{_text(rng, rng.randint(8, 30))}</member_notes>")
        parts.append("</member>")
    parts.append(f"<photo>{photo}</photo><meta><instanceID>{instance_id}</instanceID></meta></data>")
    return "\n".join(parts).encode()
