"""The admin web interface: server-rendered pages for supervisors and managers.

Views are split by what they own (auth, navigation, submissions, review, devices, forms); they call the
same services as the JSON API and hold no business rules. Every page needs a logged-in person (a
signed session cookie), every form carries a CSRF token, and every page is sent with a strict
Content-Security-Policy: no inline script, so user data that slipped through escaping still cannot run.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from app.web.admin import (  # noqa: E402,F401  (views register themselves on bp)
    account,
    audit_log,
    auth,
    devices,
    entities,
    exports,
    form_versions,
    gazetteer,
    hubs,
    indicators,
    jobs,
    mappings,
    maps,
    menu,
    navigation,
    people,
    quality,
    response,
    review,
    sites,
    structure,
    submissions,
    trash,
)
from app.web.admin import publishing as forms  # noqa: E402,F401  (views register themselves on bp)
