"""The P-code gazetteer in the admin, for administrators: the countries and units sites are checked
against, and an upload of OCHA's global P-code list format (``ruta gazetteer import``'s logic) with a
row-by-row report; a file with any problem changes nothing."""

from __future__ import annotations

from collections import Counter

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.db import get_session
from app.services.audit import events as audit
from app.sites import places
from app.web.admin import bp
from app.web.admin.context import current_actor

MAX_UPLOAD = 20 * 1024 * 1024


def _page(*, problems: list[str] | None = None, error: str = "", status: int = 200) -> tuple[str, int]:
    gazetteer = places.shipped()
    counts = Counter((u.iso3, u.level) for u in gazetteer.units.values())
    countries = sorted({iso3 for iso3, _level in counts})
    rows = [
        {
            "iso3": iso3,
            "name": (gazetteer.country(iso3).name if gazetteer.country(iso3) else ""),  # type: ignore[union-attr]
            "adm1": counts[(iso3, 1)],
            "adm2": counts[(iso3, 2)],
        }
        for iso3 in countries
    ]
    html = render_template(
        "admin/gazetteer.html", countries=rows, problems=problems, error=error, columns=places.UNIT_COLUMNS
    )
    return html, status


@bp.get("/gazetteer")
def gazetteer() -> tuple[str, int]:
    current_actor().require_admin()
    return _page()


@bp.post("/gazetteer/import")
def import_gazetteer() -> tuple[str, int] | Response:
    actor = current_actor()
    actor.require_admin()
    upload = request.files.get("file")
    data = upload.stream.read(MAX_UPLOAD + 1) if upload else b""
    if len(data) > MAX_UPLOAD:
        return _page(error=gettext("The file is larger than 20 MB; split it."), status=413)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _page(error=gettext("The file is not UTF-8 text: save it as CSV (UTF-8)."), status=400)
    try:
        imported, merged = places.import_units(places.directory(), text)
    except places.GazetteerFileError as err:
        return _page(problems=err.problems, status=422)
    countries = sorted({u.iso3 for u in imported})
    audit.record(
        get_session(),
        actor=actor,
        action="gazetteer.import",
        subject_type="gazetteer",
        subject_id=",".join(countries)[:255],
        details={"imported": len(imported), "units": len(merged), "countries": countries},
    )
    flash(
        gettext(
            "%(imported)s units of %(countries)s imported; the gazetteer has %(units)s units.",
            imported=len(imported),
            countries=", ".join(countries),
            units=len(merged),
        ),
        "ok",
    )
    return redirect(url_for("admin.gazetteer"), code=303)  # type: ignore[return-value]
