"""``ruta hub ...``: run this Ruta as a field hub of a central one, or manage hubs on the central one.

On the hub:    ``ruta hub link URL --project CENTRAL_PID --token T``, ``ruta hub sync``, ``ruta hub status``.
On the central: ``ruta hub issue NAME --project PID``, ``ruta hub list --project PID``,
``ruta hub revoke ID --project PID``.

``sync`` (``app.hub_sync``) commits after every batch the central side acknowledged (the durable
cursor), so a sync cut off mid-transfer resumes where it stopped; it prints progress on stderr and a
JSON report of what it did on stdout.
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
    from app.services import projects
    from app.services.hubs import link as hub_link
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
    from app.hub_sync import Syncer, SyncOptions

    opts = SyncOptions(
        local_project=args.local_project,
        batch_size=args.batch_size,
        max_bytes=args.max_bytes,
        batch_seconds=args.batch_seconds,
        retries=args.retries,
        give_up_after=args.give_up_after,
        until_done=args.until_done,
        max_backoff=args.max_backoff,
        pull=not args.no_pull,
    )
    app = _app()
    while True:
        ok, report = Syncer(app, opts, out=None if args.quiet else sys.stderr).run()
        # A pass pushes what was there when it started; --until-done also takes what came meanwhile.
        if not (ok and args.until_done and (report.get("pending") or report.get("pendingFiles"))):
            break
    if report.get("error") and set(report) == {"ok", "error"}:
        print(f"error: {report['error']}", file=sys.stderr)
        return 1
    _print(report)
    return 0 if ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from app.db import get_database
    from app.errors import RutaError
    from app.services.hubs import link as hub_link

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        try:
            link = hub_link.get_link(session, project_id=args.local_project)
        except RutaError as err:
            print(f"error: {err.message}", file=sys.stderr)
            return 1
        left = hub_link.backlog(session, link=link)
        _print(
            {
                "localProject": link.project_id,
                "central": link.central_url,
                "centralProject": link.central_project_id,
                "hubId": link.central_hub_id,
                "cursor": link.version_cursor,
                "filesCursor": link.files_cursor,
                "pending": left.items,
                "pendingBytes": left.xml_bytes,
                "pendingFiles": left.files,
                "pendingFileBytes": left.file_bytes,
                "pushedTotal": link.last_push_count,
                "syncing": hub_link.sync_running(link),
                "syncStartedAt": link.sync_started_at,
                "linkRate": round(link.link_rate) if link.link_rate else None,
                "lastSyncAt": link.last_sync_at,
                "lastSyncBytes": link.last_sync_bytes,
                "lastSyncSeconds": link.last_sync_seconds,
                "lastError": link.last_error,
            }
        )
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from app.auth.actor import Actor
    from app.db import get_database
    from app.services import projects
    from app.services.hubs import central as hubs

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
    import sqlalchemy as sa

    from app.db import get_database
    from app.services import projects
    from app.services.hubs import central as hubs

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
                # The server's operator at its command line: every row.
                for s in hubs.list_hubs(session, project=project, rows=sa.true())
            ]
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from app.auth.actor import Actor
    from app.db import get_database
    from app.services import projects
    from app.services.hubs import central as hubs

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

    p = cmds.add_parser(
        "sync",
        help="push new submissions (data first, then files) up, pull forms down",
        description="Batches are sized to about --batch-seconds of the link's measured rate and sent as "
        "resumable uploads; a request is retried with backoff while the link is down, for "
        "--give-up-after seconds (or for as long as it takes with --until-done). Progress goes to "
        "stderr, the JSON report to stdout.",
    )
    p.add_argument("--local-project", type=int)
    p.add_argument("--batch-size", type=int, default=2000, help="at most this many submissions a batch")
    p.add_argument(
        "--max-bytes", type=int, default=32 * 1024 * 1024, help="at most about this many bytes a batch"
    )
    p.add_argument("--batch-seconds", type=float, default=60.0, help="link time a batch should take")
    p.add_argument(
        "--retries", type=int, default=None, help="retry a request this many times, not for a time"
    )
    p.add_argument("--give-up-after", type=float, default=3600.0, help="seconds to retry while offline")
    p.add_argument("--until-done", action="store_true", help="keep retrying across outages until done")
    p.add_argument("--max-backoff", type=float, default=60.0, help="longest wait between retries (s)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
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
