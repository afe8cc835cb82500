"""Issue 14 item 3, "one rule in one place": rules that had copies now have one home, and an AST walk of
``app/`` and ``sync/`` (no code runs) keeps it so. Each rule names where it lives:

- the OpenRosa protocol's constants (header names, version, namespaces, content type): ``sync/openrosa.py``;
- the device-token query: ``app/services/accounts/app_users.py`` (``device_token_query``);
- "the project or 404, then the access check": ``app/services/projects.py`` (``project_for``); no view
  loads a project by id itself;
- reading a sent mapping document: ``app/services/indicators/mappings.py`` (``read_document``); the pure
  ``app/indicators`` package holds the parser it calls;
- compiling a form version's schema: ``app/services/version_cache.py``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _modules() -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []
    for top in ("app", "sync", "forms"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found.append((rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)))
    return found


def _strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _openrosa_literal(tree: ast.AST) -> Iterator[int]:
    marks = ("X-OpenRosa", "openrosa.org/xforms", "openrosa.org/http")
    for line, text in _strings(tree):
        if any(m in text for m in marks) or text in {"submit_success", "text/xml; charset=utf-8"}:
            yield line


def _calls(tree: ast.AST, test: Callable[[ast.Call], bool]) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and test(node):
            yield node.lineno


def _attribute(node: ast.AST, owner: str, name: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Name)
        and node.value.id == owner
    )


def _token_hash_compared(tree: ast.AST) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and _attribute(node.left, "AppUser", "token_hash"):
            yield node.lineno


def _project_by_id(tree: ast.AST) -> Iterator[int]:
    yield from _calls(
        tree,
        lambda c: (
            isinstance(c.func, ast.Attribute)
            and c.func.attr == "get"
            and bool(c.args)
            and isinstance(c.args[0], ast.Name)
            and c.args[0].id == "Project"
        ),
    )


def _mapping_parsed(tree: ast.AST) -> Iterator[int]:
    yield from _calls(tree, lambda c: _attribute(c.func, "MappingDocument", "from_dict"))


def _schema_compiled(tree: ast.AST) -> Iterator[int]:
    yield from _calls(tree, lambda c: isinstance(c.func, ast.Name) and c.func.id == "compile_schema")


# (what, finder, where it may stand: a path or a folder prefix)
RULES: list[tuple[str, Callable[[ast.AST], Iterator[int]], tuple[str, ...]]] = [
    ("OpenRosa constants", _openrosa_literal, ("sync/openrosa.py",)),
    ("the device-token query", _token_hash_compared, ("app/services/accounts/app_users.py",)),
    (
        "a project loaded by id in a view",
        _project_by_id,
        ("app/services/", "app/hub_sync.py", "app/worker.py", "app/cli"),
    ),
    ("a mapping document read", _mapping_parsed, ("app/services/indicators/mappings.py", "app/indicators/")),
    # The export of an encrypted submission whose version row is gone compiles the export's schema.
    (
        "a schema compiled",
        _schema_compiled,
        ("app/services/version_cache.py", "app/services/exports/tables.py", "sync/"),
    ),
]


@pytest.mark.parametrize(("what", "finder", "homes"), RULES, ids=[r[0] for r in RULES])
def test_each_rule_has_one_home(
    what: str, finder: Callable[[ast.AST], Iterator[int]], homes: tuple[str, ...]
) -> None:
    strays = [
        f"{path}:{line}" for path, tree in _modules() if not path.startswith(homes) for line in finder(tree)
    ]
    assert strays == [], f"{what} outside {homes}: {strays}"


@pytest.mark.parametrize(("what", "finder", "homes"), RULES, ids=[r[0] for r in RULES])
def test_each_finder_sees_its_rule(
    what: str, finder: Callable[[ast.AST], Iterator[int]], homes: tuple[str, ...]
) -> None:
    """The walk is not blind: each finder sees the rule where it lives, and in a copy of it."""
    samples = {
        "OpenRosa constants": 'headers["X-OpenRosa-Version"] = "1.0"',
        "the device-token query": "select(AppUser).where(AppUser.token_hash == h)",
        "a project loaded by id in a view": "project = session.get(Project, project_id)",
        "a mapping document read": "doc = MappingDocument.from_dict(data)",
        "a schema compiled": "compiled = compile_schema(FormSchema.from_dict(raw))",
    }
    assert list(finder(ast.parse(samples[what]))) == [1]
    home = next(p for p, tree in _modules() if p.startswith(homes[0]) and list(finder(tree)))
    assert home.startswith(homes)
