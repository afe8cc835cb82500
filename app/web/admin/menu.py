"""The admin's main menu: the same on every page, holding only what the person may use (a role never
sees menus it cannot use). Features add their page with ``add_main_menu_item``."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g, request, url_for
from flask_babel import lazy_gettext as _l

from app.auth.actor import Actor
from app.web.admin import bp

Visible = Callable[[Actor], bool]
_MAIN_MENU: list[tuple[str, object, Visible]] = []


def add_main_menu_item(endpoint: str, label: object, visible: Visible) -> None:
    if all(item[0] != endpoint for item in _MAIN_MENU):
        _MAIN_MENU.append((endpoint, label, visible))


def _logged_in(actor: Actor) -> bool:
    return actor.user is not None


def _admin(actor: Actor) -> bool:
    return actor.is_admin


def _people(actor: Actor) -> bool:
    from app.web.admin.people import may_see_people

    return may_see_people(actor)


def _audit(actor: Actor) -> bool:
    """Whoever may read some project's events (administrators, project managers)."""
    from app.db import get_session
    from app.services.audit.log import readable_project_ids

    return readable_project_ids(get_session(), actor) != []


add_main_menu_item("admin.index", _l("Projects"), _logged_in)
add_main_menu_item("admin.people", _l("People"), _people)
add_main_menu_item("admin.organisations", _l("Organisations"), _admin)
add_main_menu_item("admin.jobs", _l("Background jobs"), _admin)
add_main_menu_item("admin.audit_page", _l("Audit log"), _audit)
add_main_menu_item("admin.account", _l("My account"), _logged_in)


@bp.context_processor
def _main_menu() -> dict[str, object]:
    actor = g.get("actor")
    if actor is None or actor.user is None:
        return {"main_menu": []}
    known = {rule.endpoint for rule in current_app.url_map.iter_rules()}
    items = []
    for endpoint, label, visible in _MAIN_MENU:
        if endpoint not in known or not visible(actor):
            continue
        url = url_for(endpoint)
        active = request.endpoint == endpoint or (
            endpoint != "admin.index" and request.path.startswith(url) and url != "/admin/"
        )
        items.append({"url": url, "label": str(label), "active": active})
    return {"main_menu": items}
