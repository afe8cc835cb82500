"""Webhooks: a project's new, edited and reviewed submissions POSTed as signed JSON.

The audit trail is the source: every submission write and review is audited in its own transaction,
and ``dispatch`` (a job queued by those writes, ``jobs.after_submission_change``) turns the project's
audit events past each webhook's cursor into deliveries, one ``webhooks.deliver`` job each, retried
with backoff; a delivery out of attempts is ``dead`` and listed in the admin, where it can be sent
again. The body carries identifiers and the review state, never answers: the receiver reads what it
may see through the API with its own credentials (so the sensitive-data rule holds).

Signature: ``X-Ruta-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under the secret>`` (the
scheme GitHub uses, so existing verifiers work); ``X-Ruta-Delivery`` is the delivery id, the same on
every retry, for receivers that must drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.db import utcnow
from app.errors import ForbiddenError, InvalidValueError, NotFoundError
from app.models import AuditEvent, Project, Webhook, WebhookDelivery
from app.services import jobs
from app.services.audit import events as audit
from app.services.protection import row_access

EVENTS = ("submission.created", "submission.updated", "submission.reviewed")
# Audit ids are drawn at insert, so a transaction may commit after a later one that dispatch already
# saw; the last LATE_WINDOW events below the cursor are looked at again (deliveries are unique).
LATE_WINDOW = 200
DELIVERY_ATTEMPTS = 10  # 2 s ... 17 min of backoff, about half an hour in all
SIGNATURE_HEADER = "X-Ruta-Signature-256"


class WebhookDeliveryError(Exception):
    pass


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def create_webhook(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    url: str,
    secret: str | None = None,
    events: list[str] | None = None,
) -> Webhook:
    if not row_access.sees_all_rows(session, actor, project):
        # A webhook hears of every row of the project (identifiers, review states): a partner's
        # people, who read only their organisation's rows, may not set one.
        raise ForbiddenError("Only the project's own organisation may add webhooks to a shared project.")
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValueError("url must be an http:// or https:// address.", details={"field": "url"})
    chosen = list(events) if events else list(EVENTS)
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise InvalidValueError(
            f"Unknown webhook event {unknown[0]!r}; known: {', '.join(EVENTS)}.", details={"field": "events"}
        )
    if secret is not None and len(secret) < 16:
        raise InvalidValueError(
            "secret must be at least 16 characters (or leave it out).", details={"field": "secret"}
        )
    hook = Webhook(
        project_id=project.id,
        url=url,
        secret=secret or secrets.token_urlsafe(32),
        events=chosen,
        # From now on: past events are not replayed to a new subscriber.
        cursor=session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0,
        created_by_id=actor.user_id,
    )
    session.add(hook)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.create",
        project_id=project.id,
        subject_type="webhook",
        subject_id=hook.id,
        details={"url": url, "events": chosen},
    )
    return hook


def list_webhooks(session: Session, *, project: Project) -> list[Webhook]:
    return list(
        session.scalars(sa.select(Webhook).where(Webhook.project_id == project.id).order_by(Webhook.id))
    )


def get_webhook(session: Session, *, project: Project, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.project_id != project.id:
        raise NotFoundError("No such webhook in this project.")
    return hook


def delete_webhook(session: Session, *, actor: Actor, project: Project, webhook: Webhook) -> None:
    session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    session.delete(webhook)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.delete",
        project_id=project.id,
        subject_type="webhook",
        subject_id=webhook.id,
    )


def _event_name(event: AuditEvent) -> str:
    if event.action == "submission.review":
        return "submission.reviewed"
    return "submission.updated" if (event.details or {}).get("deprecatedId") else "submission.created"


def _body(event: AuditEvent, name: str) -> dict[str, Any]:
    details = event.details or {}
    body: dict[str, Any] = {
        "event": name,
        "projectId": event.project_id,
        "instanceId": event.subject_id,
        "at": event.created_at.isoformat(),
    }
    if name == "submission.reviewed":
        body["reviewState"] = details.get("to")
        body["previousReviewState"] = details.get("from")
    else:
        body["xmlFormId"] = details.get("form")
        body["formVersion"] = details.get("version")
        if details.get("deprecatedId"):
            body["deprecatedId"] = details["deprecatedId"]
    return body


def dispatch(session: Session, *, project_id: int) -> int:
    """Deliveries (and their jobs) for the project's submission events past each webhook's cursor."""
    hooks = session.scalars(
        sa.select(Webhook).where(Webhook.project_id == project_id).order_by(Webhook.id)
    ).all()
    made = 0
    for hook in hooks:
        floor = max(hook.cursor - LATE_WINDOW, 0)
        events = session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.project_id == project_id,
                AuditEvent.id > floor,
                AuditEvent.action.in_(("submission.create", "submission.review")),
            )
            .order_by(AuditEvent.id)
        ).all()
        done = set(
            session.scalars(
                sa.select(WebhookDelivery.audit_event_id).where(
                    WebhookDelivery.webhook_id == hook.id, WebhookDelivery.audit_event_id > floor
                )
            )
        )
        for event in events:
            if event.id in done or (event.id <= hook.cursor and event.created_at < hook.created_at):
                continue
            name = _event_name(event)
            if name not in hook.events:
                continue
            delivery = WebhookDelivery(
                webhook_id=hook.id, audit_event_id=event.id, event=name, body=_body(event, name)
            )
            session.add(delivery)
            session.flush()
            delivery.body = delivery.body | {"deliveryId": delivery.id}
            _queue(session, delivery)
            made += 1
        if events:
            hook.cursor = max(hook.cursor, events[-1].id)
    session.flush()
    return made


def _queue(session: Session, delivery: WebhookDelivery) -> None:
    jobs.enqueue(
        session,
        "webhooks.deliver",
        {"delivery": delivery.id},
        key=f"delivery:{delivery.id}",
        max_attempts=DELIVERY_ATTEMPTS,
    )


def deliver(session: Session, *, delivery_id: int, timeout: float) -> None:
    """POST one delivery; raises ``WebhookDeliveryError`` on anything but a 2xx (the job retries)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status == "delivered":
        return
    hook = session.get(Webhook, delivery.webhook_id)
    if hook is None:
        return
    body = json.dumps(delivery.body, ensure_ascii=False, separators=(",", ":")).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked at creation
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Ruta-Webhook/1",
            "X-Ruta-Event": delivery.event,
            "X-Ruta-Delivery": str(delivery.id),
            SIGNATURE_HEADER: signature(hook.secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - as above
            code = response.status
    except urllib.error.HTTPError as exc:
        raise WebhookDeliveryError(f"The receiver answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        raise WebhookDeliveryError(f"The receiver could not be reached: {exc}.") from None
    delivery.status, delivery.last_status_code, delivery.last_error = "delivered", code, None
    delivery.attempts += 1
    delivery.delivered_at = utcnow()
    session.flush()


def record_failure(session: Session, *, delivery_id: int, error: str, dead: bool) -> None:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return
    delivery.attempts += 1
    delivery.last_error = error[:2000]
    if dead:
        delivery.status = "dead"
    session.flush()


def dead_letters(session: Session, *, limit: int = 100) -> list[tuple[WebhookDelivery, Webhook]]:
    rows = session.execute(
        sa.select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == "dead")
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    return [(d, w) for d, w in rows]


def redeliver(session: Session, *, actor: Actor, delivery: WebhookDelivery) -> None:
    """Send a dead delivery again (the admin's retry), with a fresh set of attempts."""
    if delivery.status != "dead":
        return
    delivery.status = "pending"
    session.flush()
    _queue(session, delivery)
    audit.record(
        session,
        actor=actor,
        action="webhook.redeliver",
        subject_type="webhook_delivery",
        subject_id=delivery.id,
    )


def describe(hook: Webhook, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": hook.id,
        "projectId": hook.project_id,
        "url": hook.url,
        "events": list(hook.events),
        "createdAt": hook.created_at.isoformat(),
    }
    if with_secret:
        out["secret"] = hook.secret  # shown once, at creation
    return out
