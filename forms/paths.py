"""Instance paths as Ruta stores them: ``/data/group/q``, prefixes and predicates dropped.

XForms refer to instance nodes with XPath written in many ways — ``/data/orx:meta/orx:instanceID``,
relative ``cough/breath_rate`` under a group or a top-level bind, ``instance('list')/root/item[...]``
for secondary instances. Ruta matches on local names (clients differ in namespace prefixes), so every
reference is reduced to the same canonical absolute path before it is compared.
"""

from __future__ import annotations

import re

_PREDICATE = re.compile(r"\[[^\]]*\]")
_INSTANCE_CALL = re.compile(r"""^\s*instance\(\s*['"]([^'"]+)['"]\s*\)""")


def canonical(ref: str | None, context: str) -> str | None:
    """Reduce ``ref`` to an absolute path of local names, resolved against ``context`` when relative.

    Returns None for references that are not plain paths into the primary instance (function calls,
    ``instance('x')/...``, attributes), which callers then ignore.
    """
    if ref is None:
        return None
    ref = _PREDICATE.sub("", ref).strip()
    if not ref or "(" in ref or "@" in ref:
        return None
    steps = [] if ref.startswith("/") else [s for s in context.split("/") if s]
    for raw in ref.split("/"):
        step = raw.strip()
        if step in ("", "."):
            continue
        if step == "..":
            if steps:
                steps.pop()
            continue
        steps.append(step.rsplit(":", 1)[-1])
    return "/" + "/".join(steps) if steps else None


def secondary_instance_id(nodeset: str | None) -> str | None:
    """``instance('LIST')/root/item[...]`` -> ``LIST``; None when the nodeset is not such a reference."""
    if not nodeset:
        return None
    match = _INSTANCE_CALL.match(nodeset)
    return match.group(1) if match else None


def last_step(path: str) -> str:
    """``/data/group/q`` -> ``q``."""
    return path.rstrip("/").rsplit("/", 1)[-1]
