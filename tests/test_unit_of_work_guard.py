"""No commit outside the places that own a unit of work (issue 14, item 4).

A request's unit of work is app/web/unit_of_work.py; a CLI command's and a job's are their runners.
Views and services never commit (services flush). Every other ``.commit`` is listed here with the
number allowed in its module and the reason, so a new one, also in code merged from another branch,
fails this test until someone decides it is one of the rare deliberate commits.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "forms", "sync")

ALLOWED: dict[str, tuple[int, str]] = {
    "app/web/unit_of_work.py": (1, "the commit point of every request"),
    "app/worker.py": (5, "the job runner: one commit per job, plus claiming and recording attempts"),
    "app/hub_sync.py": (6, "the hub's sync loop: its cursor is durable after each batch the centre stored"),
    "app/cli.py": (7, "CLI commands, each its own unit of work (one per project for long runs)"),
    "app/cli_blobs.py": (1, "a CLI command"),
    "app/cli_hub.py": (3, "CLI commands"),
    "app/cli_sites.py": (1, "a CLI command"),
    "app/services/exports/runs.py": (
        5,
        "the export job: progress in its own short transactions, the read ended between pages, and a "
        "refused risk check kept on record",
    ),
    "app/web/errors.py": (1, "the audit rows of a refused request outlive its rollback"),
    "app/web/login_guard.py": (1, "a wrong password is counted although the request is rolled back"),
    "app/web/admin/sessions.py": (1, "the session store saves after the view, outside its unit of work"),
    "app/web/admin/context.py": (1, "a log-out in before_request, which the failing page would roll back"),
    "app/web/admin/submissions.py": (1, "who saw a record is kept even if the page fails to render"),
    "app/web/admin/exports.py": (2, "the audit before the pages are read; the read ended between pages"),
    "app/web/api/exports.py": (
        3,
        "the risk check kept when refused; the audit before the pages; the read ended between pages",
    ),
    "app/web/api/response.py": (1, "a refused 5W upload keeps its error report although the answer is 422"),
    "app/web/api/batch.py": (1, "a chunked batch's items are durable before its kept answer is written"),
}


def commits_by_module(root: Path = ROOT) -> Counter[str]:
    """Every ``.commit`` attribute (a call, or a method handed on as a callback) and every import of a
    ``commit`` function, per module."""
    found: Counter[str] = Counter()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr == "commit":
                    found[path.relative_to(root).as_posix()] += 1
                if isinstance(node, ast.ImportFrom) and any(a.name == "commit" for a in node.names):
                    found[path.relative_to(root).as_posix()] += 1
    return found


def test_commits_only_where_a_unit_of_work_is_owned() -> None:
    found = commits_by_module()
    unexpected = {module: count for module, count in found.items() if count > ALLOWED.get(module, (0, ""))[0]}
    assert unexpected == {}, (
        "Views and services never commit: the request's unit of work (app/web/unit_of_work.py) does. "
        f"Remove these commits, or list a deliberate one in ALLOWED with its reason: {unexpected}"
    )


def test_the_allow_list_is_not_stale() -> None:
    found = commits_by_module()
    stale = {module: allowed for module, (allowed, _) in ALLOWED.items() if found.get(module, 0) < allowed}
    assert stale == {}, f"Fewer commits than listed; lower the allowance: {stale}"


def test_the_walk_sees_a_commit(tmp_path: Path) -> None:
    (tmp_path / "app" / "web").mkdir(parents=True)
    (tmp_path / "app" / "web" / "view.py").write_text(
        "from app.db import commit\n\ndef view(session):\n    session.commit()\n    cb = session.commit\n"
    )
    assert commits_by_module(tmp_path) == {"app/web/view.py": 3}
