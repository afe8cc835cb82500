"""``ruta hub ...``: run this Ruta as a field hub of a central one, or manage hubs on the central one.

On the hub:    ``ruta hub link URL --project CENTRAL_PID --token T``, ``ruta hub sync``, ``ruta hub status``.
On the central: ``ruta hub issue NAME --project PID``, ``ruta hub list --project PID``,
``ruta hub revoke ID --project PID``.

``sync`` commits after every batch the central side acknowledged (the durable cursor), so a sync cut
off mid-transfer resumes where it stopped; it prints a JSON report of what it did.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flask import Flask


def _app() -> Flask:
    from app import create_app

    return create_app()


def _print(data: dict[str, Any] | list[Any]) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_link(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from app.auth.actor import Actor
    from app.db import get_database
    from app.models import Project
    from app.services import hub_link, projects
    from sync.hub_client import HubClient, HubClientError

    app = _app()
    client = HubClient(args.central_url, args.project, args.token, retries=args.retries)
    try:
        who = client.whoami()
    except HubClientError as err:
        print(f"error: the central Ruta refused the link: {err.message}", file=sys.stderr)
        return 1
    with app.app_context(), get_database(app).session_scope() as session:
        if args.local_project is not None:
            project = projects.get_project(session, args.local_project)
        else:
            org = projects.get_organisation_by_code(session, "HUB") or projects.create_organisation(
                session, actor=Actor(), code="HUB", name="Field hub"
            )
            name = who["project"]["name"]
            found = session.scalar(
                select(Project).where(Project.organisation_id == org.id, Project.name == name)
            )
            project = found or projects.create_project(session, actor=Actor(), organisation=org, name=name)
        link = hub_link.link_project(
            session,
            project=project,
            central_url=args.central_url,
            central_project_id=args.project,
            token=args.token,
            central_hub_id=(who.get("hub") or {}).get("id"),
        )
        session.commit()
        _print(
            {"linked": True, "localProject": project.id, "central": link.central_url, "hub": who.get("hub")}
        )
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from app.blobs import get_blob_store
    from app.db import get_database, utcnow
    from app.errors import RutaError
    from app.models import Project
    from app.services import hub_link
    from sync.hub_client import HubClient, HubClientError, build_zip

    app = _app()
    store = get_blob_store(app)
    tally = hub_link.PushTally()
    report: dict[str, Any] = {}
    with app.app_context(), get_database(app).session_scope() as session:
        try:
            link = hub_link.get_link(session, project_id=args.local_project)
        except RutaError as err:
            print(f"error: {err.message}", file=sys.stderr)
            return 1
        client = HubClient(link.central_url, link.central_project_id, link.token, retries=args.retries)
        started = utcnow()
        upto = link.version_cursor
        error = None
        link.last_error = None  # this run's refusals or failure replace the last run's
        try:
            while True:
                versions = hub_link.pending_versions(
                    session, link=link, limit=args.batch_size, max_bytes=args.max_bytes
                )
                if not versions:
                    break
                answer = client.push_batch(build_zip([hub_link.outgoing(v, store) for v in versions]))
                tally.add(answer)
                hub_link.acknowledge(
                    session, link=link, upto=versions[-1].id, pushed=len(versions), answer=answer
                )
                session.commit()  # the durable cursor: this batch is stored centrally
            late = hub_link.refreshed_versions(session, link=link, upto=upto)
            for start in range(0, len(late), args.batch_size):
                chunk = late[start : start + args.batch_size]
                tally.add(client.push_batch(build_zip([hub_link.outgoing(v, store) for v in chunk])))
            if not args.no_pull:
                project = session.get(Project, link.project_id)
                assert project is not None
                pulled = hub_link.mirror_forms(
                    session,
                    project=project,
                    catalogue=client.forms(),
                    fetch_xml=client.form_xml,
                    fetch_media=client.media,
                    store=store,
                )
                report["pulled"] = pulled.__dict__
        except (HubClientError, RutaError) as err:
            error = err.message
            session.rollback()
        hub_link.finish(session, link=link, started=started, error=error)
        session.commit()
        report |= {
            "ok": error is None,
            "error": error,
            "batches": tally.batches,
            "items": tally.counts,
            "refused": tally.failures,
            "cursor": link.version_cursor,
            "pending": hub_link.count_pending(session, link=link),
        }
    _print(report)
    return 0 if error is None else 1


def cmd_status(args: argparse.Namespace) -> int:
    from app.db import get_database
    from app.errors import RutaError
    from app.services import hub_link

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        try:
            link = hub_link.get_link(session, project_id=args.local_project)
        except RutaError as err:
            print(f"error: {err.message}", file=sys.stderr)
            return 1
        _print(
            {
                "localProject": link.project_id,
                "central": link.central_url,
                "centralProject": link.central_project_id,
                "hubId": link.central_hub_id,
                "cursor": link.version_cursor,
                "pending": hub_link.count_pending(session, link=link),
                "pushedTotal": link.last_push_count,
                "lastSyncAt": link.last_sync_at,
                "lastError": link.last_error,
            }
        )
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from app.auth.actor import Actor
    from app.db import get_database
    from app.services import hubs, projects

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        project = projects.get_project(session, args.project)
        issued = hubs.issue_hub(session, actor=Actor(), project=project, name=args.name)
        session.commit()
        print(
            f"Hub #{issued.hub.id} '{issued.hub.name}' for project #{project.id} "
            "(the credential is shown once)."
        )
        print(f"  Credential: {issued.token}")
        print(
            f"  On the hub: ruta hub link <this server's URL> --project {project.id} --token {issued.token}"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from app.db import get_database
    from app.services import hubs, projects

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        project = projects.get_project(session, args.project)
        _print(
            [
                {
                    "id": s.hub.id,
                    "name": s.hub.name,
                    "revokedAt": s.hub.revoked_at,
                    "lastSyncAt": s.hub.last_sync_at,
                    "batches": s.hub.batches_received,
                    "submissions": s.submissions,
                }
                for s in hubs.list_hubs(session, project=project)
            ]
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from app.auth.actor import Actor
    from app.db import get_database
    from app.services import hubs, projects

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        project = projects.get_project(session, args.project)
        hubs.revoke_hub(
            session, actor=Actor(), hub=hubs.get_hub(session, project=project, hub_id=args.hub_id)
        )
        session.commit()
    print(f"Hub #{args.hub_id} revoked: its credential no longer works.")
    return 0


def add_parser(sub: Any) -> None:
    hub = sub.add_parser("hub", help="field hub: link to a central Ruta, sync, status; issue hub credentials")
    cmds = hub.add_subparsers(dest="hub_command", required=True)

    p = cmds.add_parser("link", help="link this Ruta (a hub) to a project on a central Ruta")
    p.add_argument("central_url")
    p.add_argument("--project", type=int, required=True, help="the project id on the central Ruta")
    p.add_argument("--token", required=True, help="the hub credential the central Ruta issued")
    p.add_argument(
        "--local-project", type=int, help="this Ruta's project (default: one named like central's)"
    )
    p.add_argument("--retries", type=int, default=5)
    p.set_defaults(func=cmd_link)

    p = cmds.add_parser("sync", help="push new submissions and files up, pull forms down")
    p.add_argument("--local-project", type=int)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--max-bytes", type=int, default=32 * 1024 * 1024, help="about this many bytes per batch")
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--no-pull", action="store_true", help="push only")
    p.set_defaults(func=cmd_sync)

    p = cmds.add_parser("status", help="what this hub has pushed and what is pending")
    p.add_argument("--local-project", type=int)
    p.set_defaults(func=cmd_status)

    p = cmds.add_parser("issue", help="(central) issue a hub credential for a project")
    p.add_argument("name")
    p.add_argument("--project", type=int, required=True)
    p.set_defaults(func=cmd_issue)

    p = cmds.add_parser("list", help="(central) the hubs of a project")
    p.add_argument("--project", type=int, required=True)
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("revoke", help="(central) revoke a hub credential")
    p.add_argument("hub_id", type=int)
    p.add_argument("--project", type=int, required=True)
    p.set_defaults(func=cmd_revoke)
