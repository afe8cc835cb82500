"""The OData v4 feed of each form (``/v1/projects/{pid}/forms/{xmlFormId}.svc``), for Excel, Power BI,
pyodk and ruODK. Same authentication as the JSON API (Bearer, or Basic over https)."""

from flask import Blueprint, Response

from app.web.auth import basic_allowed

bp = Blueprint("odata", __name__, url_prefix="/v1")


@bp.after_request
def _odata_headers(response: Response) -> Response:
    response.headers["OData-Version"] = "4.0"
    if response.status_code == 401 and basic_allowed():
        # Excel and Power BI ask for a user name and password when challenged.
        response.headers.setdefault("WWW-Authenticate", 'Basic realm="Ruta", charset="UTF-8"')
    return response


from app.web.odata import entities, views  # noqa: E402,F401  (views register themselves on bp)
