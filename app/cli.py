"""The ``ruta`` command line: init, serve, create-user, app-user, publish, indicators refresh (and hub).

Each command is one unit of work with one commit at its end, like a request.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from flask import Flask
from sqlalchemy import select

DEMO_ORG_CODE = "DEMO"
DEMO_PROJECT_NAME = "Demo: monitoreo de flujos y necesidades"


def _app() -> Flask:
    from app import create_app

    return create_app()


def upgrade_database(app: Flask) -> None:
    from alembic import command

    from app.auth.secret_box import passphrases
    from app.migrate import alembic_config

    cfg = alembic_config(app.config["DATABASE_URL"], totp_keys=passphrases(app.config))
    command.upgrade(cfg, "head")


def base_url(app: Flask, host: str = "127.0.0.1", port: int = 8000) -> str:
    return (app.config.get("BASE_URL") or f"http://{host}:{port}").rstrip("/")


def cmd_init(args: argparse.Namespace) -> int:
    from app.auth.actor import Actor
    from app.auth.passwords import generate_password
    from app.blobs import get_blob_store
    from app.db import get_database
    from app.models import Form, Project
    from app.services import projects
    from app.services.accounts import people as accounts
    from app.services.publishing import versions as form_service
    from forms.library import bundled_forms, read_bundled

    app = _app()
    upgrade_database(app)
    email = args.admin_email or app.config.get("ADMIN_EMAIL") or "admin@ruta.local"
    password = args.admin_password or app.config.get("ADMIN_PASSWORD")
    realm = app.config["DIGEST_REALM"]
    printed_password = None
    with app.app_context(), get_database(app).session_scope() as session:
        admin = accounts.get_user_by_email(session, email)
        if admin is None:
            if password is None:
                password = printed_password = generate_password()
            admin = accounts.create_user(
                session,
                actor=None,
                email=email,
                password=password,
                realm=realm,
                display_name="Administrator",
                is_admin=True,
            )
        elif args.admin_password:  # a new password: every session of the admin ends
            accounts.change_password(
                session, actor=None, user=admin, password=args.admin_password, realm=realm
            )
        actor = Actor(user=admin)
        org = projects.get_organisation_by_code(session, DEMO_ORG_CODE) or projects.create_organisation(
            session, actor=actor, code=DEMO_ORG_CODE, name="Demo organisation"
        )
        project = session.scalar(
            select(Project).where(Project.organisation_id == org.id, Project.name == DEMO_PROJECT_NAME)
        ) or projects.create_project(
            session,
            actor=actor,
            organisation=org,
            name=DEMO_PROJECT_NAME,
            description="Bundled border-point flow monitoring and household needs forms.",
            countries=["COL", "ECU", "PER", "BRA", "PAN", "CHL"],
        )
        published = []
        for bundled in bundled_forms():
            exists = session.scalar(
                select(Form.id).where(Form.project_id == project.id, Form.xml_form_id == bundled.form_id)
            )
            if exists is None:
                form_service.create_form(
                    session,
                    actor=actor,
                    project=project,
                    data=read_bundled(bundled.form_id),
                    store=get_blob_store(app),
                    filename=bundled.filename,
                    publish=True,
                    ignore_warnings=True,
                    run_validate=app.config["ODK_VALIDATE"],
                )
            published.append(bundled.form_id)
        session.commit()
        project_id = project.id
    url = base_url(app, args.host, args.port)
    print(f"Ruta is ready. Database: {_safe_url(app.config['DATABASE_URL'])}")
    print(f"  Admin web:       {url}/admin/  (log in with the admin account)")
    print(f"  Admin account:   {email}")
    if printed_password:
        print(f"  Admin password:  {printed_password}   (shown once; change it after logging in)")
    print(f"  Demo project:    #{project_id} with forms {', '.join(published)}")
    print(f"  API:             {url}/v1/projects/{project_id}")
    print(
        f"  Device server:   {url}/v1/projects/{project_id}  (or create a device token: "
        f"ruta app-user NAME --project {project_id})"
    )
    return 0


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve with gunicorn, a production WSGI server (never Flask's debug server)."""
    from gunicorn.app.base import BaseApplication

    app = _app()
    # Sized for small servers (2 cores): one process per core plus one, so a core stays busy while a
    # process waits on the database; 8 threads each, because a device's keep-alive connection stays
    # with the process that accepted it and connections waiting for a free thread add latency. More
    # processes than that only add context switches (measured: tests/benchmarks/README.md, ingest).
    workers = args.workers or (os.cpu_count() or 1) + 1

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", workers)
            # gthread whose event loop reads each whole request before a thread takes it: slow
            # clients cannot hold the threads (app/serve_worker.py).
            self.cfg.set("worker_class", "app.serve_worker.BufferingThreadWorker")
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", 120)
            if args.access_log:
                self.cfg.set("accesslog", "-")
                self.cfg.set("logger_class", "app.access_log.RedactingLogger")

        def load(self) -> Flask:
            return app

    # Everything built so far (the app, models, compiled statements, translations) lives as long as the
    # process: moved out of the cycle collector's reach, full collections in the workers stop walking
    # it again and again, and the forked workers keep sharing those pages (copy-on-write).
    gc.collect()
    gc.freeze()
    print(
        f"Ruta is serving on http://{args.host}:{args.port}/ "
        f"(API at /v1, device server at /v1/projects/<id>)",
        flush=True,
    )
    # The background jobs (indicator refresh, exports, webhooks) need a worker: one beside the server,
    # so `make run` stays two commands. Deployments that run `ruta worker` themselves turn it off.
    import subprocess

    worker = None
    if app.config["SERVE_WORKER"] and not args.no_worker:
        worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"])
    try:
        _Server().run()
    finally:
        if worker is not None:
            worker.terminate()  # it finishes the job in hand; a job cut short runs again elsewhere
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run background jobs until SIGTERM/SIGINT (the job in hand is finished first)."""
    import signal
    import threading

    from app.db import get_database
    from app.services import jobs
    from app.worker import Worker

    app = _app()
    worker = Worker(app)
    if args.ping is not None:
        with get_database(app).session_scope() as session:
            jobs.enqueue(session, "jobs.ping", {"seconds": args.ping})
            session.commit()
        return 0
    if args.drain:
        print(f"{worker.drain()} job(s) run", flush=True)
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Ruta worker {worker.name} is running jobs", flush=True)
    worker.run_forever(stop, poll_seconds=args.poll)
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from app.auth.actor import Actor
    from app.auth.passwords import generate_password
    from app.db import get_database
    from app.services import projects
    from app.services.accounts import people as accounts

    app = _app()
    password = args.password or generate_password()
    with app.app_context(), get_database(app).session_scope() as session:
        org_id = None
        project = None
        if args.project is not None:
            project = projects.get_project(session, args.project)
            org_id = project.organisation_id
        user = accounts.create_user(
            session,
            actor=None,
            email=args.email,
            password=password,
            realm=app.config["DIGEST_REALM"],
            organisation_id=org_id,
            is_admin=args.role == "admin",
        )
        if args.role != "admin":
            if project is None:
                print("error: --project is required for a project role", file=sys.stderr)
                return 2
            accounts.assign_role(session, actor=Actor(), project=project, user=user, role=args.role)
        session.commit()
    print(f"Created {args.email} ({args.role}).")
    if not args.password:
        print(f"Password (shown once): {password}")
    return 0


def cmd_app_user(args: argparse.Namespace) -> int:
    from app.db import get_database
    from app.services import projects
    from app.services.accounts import app_users

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        project = projects.get_project(session, args.project)
        issued = app_users.create_app_user(
            session, actor=None, project=project, display_name=args.name, form_ids=args.form or None
        )
        session.commit()
        project_name = project.name
    url = f"{base_url(app, args.host, args.port)}/v1/key/{issued.token}/projects/{args.project}"
    print(f"Device credential #{issued.app_user.id} '{args.name}' (the token is shown once).")
    print(f"  Token:       {issued.token}")
    print(f"  Server URL:  {url}")
    try:
        from sync.qr import collect_settings, encode_settings

        payload = encode_settings(collect_settings(url, project_name=project_name))
        print(f"  QR payload:  {payload}")
    except ImportError:  # pragma: no cover - sync.qr ships with Ruta
        pass
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from app.blobs import get_blob_store
    from app.db import get_database
    from app.errors import RutaError
    from app.models import Form
    from app.services import projects
    from app.services.publishing import versions as form_service

    app = _app()
    data = Path(args.file).read_bytes()
    with app.app_context(), get_database(app).session_scope() as session:
        project = projects.get_project(session, args.project)
        try:
            prepared = form_service.prepare_upload(
                data,
                filename=args.file,
                fallback_form_id=None,
                public_key=None,
                run_validate=app.config["ODK_VALIDATE"],
            )
            existing = session.scalar(
                select(Form).where(Form.project_id == project.id, Form.xml_form_id == prepared.schema.form_id)
            )
            if existing is None:
                result = form_service.create_form(
                    session,
                    actor=None,
                    project=project,
                    data=data,
                    store=get_blob_store(app),
                    filename=Path(args.file).name,
                    ignore_warnings=True,
                    run_validate=app.config["ODK_VALIDATE"],
                )
                form = result.form
            else:
                form = existing
                form_service.create_draft(
                    session,
                    actor=None,
                    form=form,
                    project=project,
                    data=data,
                    store=get_blob_store(app),
                    filename=Path(args.file).name,
                    ignore_warnings=True,
                    run_validate=app.config["ODK_VALIDATE"],
                )
            version = form_service.publish_draft(
                session, actor=None, form=form, version=args.version, override_reason=args.override_reason
            )
        except RutaError as err:
            print(f"error [{err.code}]: {err.message}", file=sys.stderr)
            for warning in err.details.get("warnings_list", []):
                print(f"  warning: {warning}", file=sys.stderr)
            return 1
        session.commit()
        for warning in version.warnings:
            print(f"warning: {warning}")
        print(f"ODK Validate: {version.validation_status}")
        for message in version.validation_messages:
            print(f"  {message}")
        print(
            f"Published {form.xml_form_id} version {version.version!r} (md5 {version.md5}) "
            f"in project #{project.id}."
        )
    return 0


def cmd_indicators_refresh(args: argparse.Namespace) -> int:
    """Normalise what indicator reads would (new, edited, re-reviewed, re-mapped submissions) ahead of
    time: after a hub pushed tens of thousands of submissions, the next read would otherwise do it
    inside a web request (a few ms per submission)."""
    from sqlalchemy import select

    from app.db import get_database
    from app.errors import RutaError
    from app.models import Project
    from app.services import projects
    from app.services.indicators import records as indicator_records

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        try:
            chosen = (
                [projects.get_project(session, args.project)]
                if args.project is not None
                else list(session.scalars(select(Project).order_by(Project.id)))
            )
        except RutaError as err:
            print(f"error [{err.code}]: {err.message}", file=sys.stderr)
            return 1
        for project in chosen:
            result = indicator_records.refresh_project(session, project=project)
            session.commit()  # one unit of work per project: a long run keeps what it finished
            print(
                f"project #{project.id}: {result.normalised} submissions normalised, "
                f"{result.review_updates} review changes applied"
                + (
                    f"; no confirmed mapping: {', '.join(result.unmapped_forms)}"
                    if result.unmapped_forms
                    else ""
                )
            )
    return 0


def cmd_totp_rekey(args: argparse.Namespace) -> int:
    """After putting a new key first in RUTA_TOTP_KEYS: every TOTP secret sealed again with it."""
    from app.auth.secret_box import box_for
    from app.db import get_database
    from app.services.accounts import two_factor

    app = _app()
    with app.app_context(), get_database(app).session_scope() as session:
        changed = two_factor.rekey(session, box=box_for(app.config))
        session.commit()
    print(f"Re-encrypted {changed} two-factor secret(s) with the first key of RUTA_TOTP_KEYS.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ruta", description="Ruta field data collection server")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create or upgrade the database, the admin and the demo project")
    p.add_argument("--admin-email")
    p.add_argument("--admin-password")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("totp-rekey", help="re-encrypt TOTP secrets with the first RUTA_TOTP_KEYS key")
    p.set_defaults(func=cmd_totp_rekey)

    p = sub.add_parser("serve", help="serve Ruta with gunicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument(
        "--access-log",
        action="store_true",
        help="write a line per request to stdout (device tokens redacted); off by default, the audit "
        "log records every write and export",
    )
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="do not start a job worker beside the server (run `ruta worker` separately)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background jobs (indicator refresh, exports, webhooks)")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an empty queue")
    p.add_argument("--drain", action="store_true", help="run the jobs due now, then exit")
    p.add_argument("--ping", type=float, metavar="SECONDS", help="queue a diagnostic job that waits SECONDS")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("create-user", help="create a web user with a role")
    p.add_argument("email")
    p.add_argument(
        "--role", required=True, choices=["admin", "manager", "supervisor", "analyst", "enumerator"]
    )
    p.add_argument("--project", type=int)
    p.add_argument("--password")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("app-user", help="create a device credential and print its token and QR payload")
    p.add_argument("name")
    p.add_argument("--project", type=int, required=True)
    p.add_argument("--form", action="append", help="limit to this xmlFormId (repeatable)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_app_user)

    p = sub.add_parser("publish", help="publish an XLSForm or XForm (a new version if the form exists)")
    p.add_argument("file")
    p.add_argument("--project", type=int, required=True)
    p.add_argument("--version")
    p.add_argument(
        "--override-reason",
        help="publish although ODK Validate failed or media are missing; the reason is audited",
    )
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("indicators", help="shared indicators: refresh canonical rows ahead of reads")
    isub = p.add_subparsers(dest="indicators_command", required=True)
    r = isub.add_parser("refresh", help="normalise new, edited, reviewed and re-mapped submissions now")
    r.add_argument("--project", type=int, help="only this project (default: every project)")
    r.set_defaults(func=cmd_indicators_refresh)

    from app import cli_blobs, cli_hub, cli_sites

    cli_hub.add_parser(sub)
    cli_blobs.add_parser(sub)
    cli_sites.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
