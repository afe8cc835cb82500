"""``ruta blobs migrate --to URL``: move the blob store (the folder to S3, S3 back to a folder).

Copies every blob the database names from the configured store (RUTA_BLOB_STORE, else the instance
folder) to the store URL names, verifying sha256, skipping what is already there: rerun it after an
interruption. Prints one line per blob on stderr and a JSON report on stdout; exits 1 when blobs are
missing or corrupt in the source, 2 when a store could not be reached (run it again). Then set
RUTA_BLOB_STORE to the new URL and restart the app servers.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any


def cmd_migrate(args: argparse.Namespace) -> int:
    from app import create_app
    from app.blobs import get_blob_store, open_store
    from app.db import get_database
    from app.errors import BlobStoreUnavailableError
    from app.services.blob_migration import migrate

    app = create_app()
    source = get_blob_store(app)
    try:
        target = open_store(args.to, app.config["BLOB_PATH"], url_seconds=app.config["BLOB_URL_SECONDS"])
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if target.url == source.url:
        print(f"{args.to} is the store in use already; name another one with --to.", file=sys.stderr)
        return 2

    def progress(outcome: str, sha: str) -> None:
        print(f"{outcome} {sha}", file=sys.stderr, flush=True)

    with app.app_context(), get_database(app).session_scope() as session:
        try:
            report = migrate(session, source=source, target=target, progress=progress)
        except BlobStoreUnavailableError as exc:
            print(f"{exc.message} Run the same command again to resume.", file=sys.stderr)
            return 2
        session.commit()
    out: dict[str, Any] = asdict(report)
    out["complete"] = report.complete
    print(json.dumps(out, indent=2))
    return 0 if report.complete else 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser("blobs", help="the blob store: migrate it to S3 and back")
    bsub = p.add_subparsers(dest="blobs_command", required=True)
    m = bsub.add_parser(
        "migrate",
        help="copy every blob to another store (s3://bucket/prefix or file:///path), resumably, "
        "verifying sha256",
    )
    m.add_argument("--to", required=True, help="the target store: s3://bucket/prefix or file:///path")
    m.set_defaults(func=cmd_migrate)
