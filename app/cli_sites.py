"""``ruta gazetteer import FILE`` and ``ruta sites import --project N FILE``.

The gazetteer import rewrites the shipped ``app/sites/gazetteer/pcodes.csv`` (or ``--data-dir``): the
file's countries replace theirs, other countries stay. Commit the changed file so every server gets it.
The sites import loads a project's registry like ``PUT /v1/projects/{pid}/sites`` and prints the report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_gazetteer_import(args: argparse.Namespace) -> int:
    from app.sites import places

    directory = Path(args.data_dir) if args.data_dir else places.DATA_DIR
    try:
        imported, merged = places.import_units(directory, Path(args.file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"Cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except places.GazetteerFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); the gazetteer was not changed.", file=sys.stderr)
        return 1
    countries = sorted({u.iso3 for u in imported})
    print(f"{len(imported)} units of {', '.join(countries)} imported; the gazetteer has {len(merged)} units.")
    return 0


def cmd_sites_import(args: argparse.Namespace) -> int:
    from app import create_app
    from app.db import get_database
    from app.errors import RutaError
    from app.models import Project
    from app.services import sites

    app = create_app()
    data = Path(args.file).read_bytes()
    with app.app_context(), get_database(app).session_scope() as session:
        if session.get(Project, args.project) is None:
            print(f"There is no project {args.project}.", file=sys.stderr)
            return 2
        try:
            result = sites.import_sites(session, project_id=args.project, data=data, good_rows=args.good_rows)
        except RutaError as exc:
            print(json.dumps(exc.to_dict(), indent=2, ensure_ascii=False))
            return 1
        session.commit()
    print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gazetteer", help="the P-code gazetteer sites are checked against")
    gsub = p.add_subparsers(dest="gazetteer_command", required=True)
    g = gsub.add_parser("import", help="replace the file's countries in the gazetteer (global P-code CSV)")
    g.add_argument("file")
    g.add_argument("--data-dir", help="the gazetteer folder to update (default: the shipped one)")
    g.set_defaults(func=cmd_gazetteer_import)

    p = sub.add_parser("sites", help="a project's site registry")
    ssub = p.add_subparsers(dest="sites_command", required=True)
    s = ssub.add_parser("import", help="import sites from a CSV or XLSX, with a row-by-row report")
    s.add_argument("file")
    s.add_argument("--project", type=int, required=True)
    s.add_argument("--good-rows", action="store_true", help="import the rows without errors, report the rest")
    s.set_defaults(func=cmd_sites_import)
