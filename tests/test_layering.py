"""DESIGN.md's dependency rules, checked on the import statements of every module (an AST walk: no code runs).

- ``forms`` and ``sync`` are pure: neither imports ``app``, ``flask`` nor ``sqlalchemy``; ``forms`` does not
  import ``sync`` (``sync`` may import ``forms``). ``app.sites`` is pure too (it imports only itself).
- ``app.models`` imports nothing of ``app`` but ``app.db`` and other models.
- ``app.services``, ``app.indicators`` and ``app.exports`` never import ``flask`` or ``app.web``.
- nothing outside ``app.web`` imports ``app.web`` (the web layer sits on top).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """Absolute names of everything a module imports, relative imports resolved, with their line numbers."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # ``from app import web`` imports app.web: name what was imported from a package too.
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package.replace(".", "/")).rglob("*.py"))


RULES: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    # (rule, packages it covers, forbidden prefixes, allowed exceptions within the forbidden ones)
    ("forms and sync are pure", ("forms", "sync"), ("app", "flask", "sqlalchemy", "werkzeug"), ()),
    ("forms does not import sync", ("forms",), ("sync",), ()),
    # The site registry's checks and gazetteer: rows in, reports out (app/sites/__init__.py).
    ("app.sites is pure", ("app.sites",), ("app", "flask", "sqlalchemy", "werkzeug"), ("app.sites",)),
    ("models import only app.db and models", ("app.models",), ("app", "flask"), ("app.db", "app.models")),
    (
        "services, indicators and exports never import flask or the web layer",
        ("app.services", "app.indicators", "app.exports"),
        ("flask", "werkzeug", "app.web", "flask_babel", "flask_wtf", "flask_limiter", "flask_httpauth"),
        (),
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_dependency_rule(rule: tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]) -> None:
    _, packages, forbidden, allowed = rule
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules(*packages)
        for line, name in _imports(path)
        if any(_under(name, f) for f in forbidden) and not any(_under(name, a) for a in allowed)
    ]
    assert not broken, "\n".join(broken)


def test_only_the_web_layer_and_the_app_factory_import_the_web_layer() -> None:
    outside = [p for p in _modules("app", "forms", "sync") if not _under(_module_name(p), "app.web")]
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in outside
        if _module_name(path) not in {"app", "app.cli"}
        for line, name in _imports(path)
        if _under(name, "app.web")
    ]
    assert not broken, "\n".join(broken)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """A rule that could never fire would pass silently: check that relative imports, ``from package import
    module`` and plain imports all resolve to the names the rules look for."""
    fake = tmp_path / "fake.py"
    fake.write_text("import flask\nfrom ..web import views\nfrom app import web\nfrom . import accounts\n")
    names = [name for _, name in _imports(fake, "app.services.fake")]
    assert "flask" in names
    assert "app.web.views" in names and "app.web" in names
    assert "app.services.accounts" in names
    rule = RULES[4]
    assert any(_under(n, f) for n in names for f in rule[2])
