"""Which version of an edited record is current, decided by deprecatedID links and never by arrival order.

An edit names the version it replaces (``meta/deprecatedID``). Through hubs and devices that sync late,
edits may arrive before the version they replace, two people may edit the same version (a fork), and
a version may never arrive at all. The links form a tree whose root is the original record (or the
earliest id anyone referred to); the current version is the deepest tip, so the answer is the same
whatever order the versions came in. ``received_order`` is carried for callers but deliberately
ignored here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Version:
    instance_id: str
    deprecated_id: str | None
    received_order: int = 0


@dataclass(frozen=True)
class Fork:
    """Several versions replacing the same one: ``child_ids`` sorted."""

    parent_id: str
    child_ids: tuple[str, ...]


@dataclass(frozen=True)
class ChainResolution:
    """``root_id`` may be a missing id (an original that has not arrived); ``current_id`` is always a
    version that is present. ``lineage`` runs from the root to the current version. ``cycle`` lists
    the ids of a deprecatedID loop (only crafted or broken data makes one); the loop is cut at its
    smallest id, which then counts as the root."""

    root_id: str
    current_id: str
    missing_ids: tuple[str, ...]
    forks: tuple[Fork, ...]
    lineage: tuple[str, ...]
    cycle: tuple[str, ...] = ()


def _by_id(versions: Iterable[Version]) -> dict[str, Version]:
    by_id: dict[str, Version] = {}
    for v in versions:
        seen = by_id.get(v.instance_id)
        if seen is not None and seen.deprecated_id != v.deprecated_id:
            # The database's unique (form, instanceID) makes this impossible for stored versions.
            raise ValueError(f"{v.instance_id} is given twice with different deprecatedIDs")
        by_id[v.instance_id] = v
    return by_id


def group_chains(versions: Iterable[Version]) -> list[set[str]]:
    """Ids connected by deprecatedID links (including referenced ids not present), one set per record,
    ordered by each set's smallest id."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for v in versions:
        a = find(v.instance_id)
        if v.deprecated_id is not None:
            b = find(v.deprecated_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, set[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    return sorted(groups.values(), key=min)


def _find_cycle(start: str, parent: dict[str, str]) -> list[str]:
    seen: list[str] = []
    node = start
    while node not in seen:
        seen.append(node)
        node = parent[node]
    return seen[seen.index(node) :]


def resolve_chain(versions: Iterable[Version]) -> ChainResolution:
    """Resolve one record's versions (one set of :func:`group_chains`). Raises ValueError when the
    versions are empty or belong to more than one record."""
    by_id = _by_id(versions)
    if not by_id:
        raise ValueError("no versions to resolve")
    if len(group_chains(by_id.values())) > 1:
        raise ValueError("the versions belong to more than one record; split them with group_chains")

    parent = {v.instance_id: v.deprecated_id for v in by_id.values() if v.deprecated_id is not None}
    nodes = set(by_id) | set(parent.values())
    missing = tuple(sorted(set(parent.values()) - set(by_id)))
    roots = sorted(n for n in nodes if n not in parent)
    cycle: tuple[str, ...] = ()
    if roots:
        # Each version has at most one parent, so a connected set has one root or one cycle, not both.
        root = roots[0]
    else:
        cycle = tuple(sorted(_find_cycle(min(nodes), parent)))
        root = cycle[0]
        del parent[root]

    children: dict[str, list[str]] = {}
    for child, par in parent.items():
        children.setdefault(par, []).append(child)

    depth = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in children.get(node, ()):
            depth[child] = depth[node] + 1
            stack.append(child)

    # Tips are present versions nothing replaces; the deepest wins, ties go to the smallest id.
    tips = [n for n in by_id if n not in children]
    current = min(tips, key=lambda n: (-depth[n], n))

    lineage = [current]
    while lineage[-1] != root:
        lineage.append(parent[lineage[-1]])

    forks = tuple(
        Fork(parent_id=p, child_ids=tuple(sorted(c))) for p, c in sorted(children.items()) if len(c) > 1
    )
    return ChainResolution(
        root_id=root,
        current_id=current,
        missing_ids=missing,
        forks=forks,
        lineage=tuple(reversed(lineage)),
        cycle=cycle,
    )


@dataclass(frozen=True)
class Conflict:
    """An edit of a version that an earlier-received edit had already replaced: two people edited the
    same version. Both are kept; the later one is the conflict a reviewer settles."""

    instance_id: str
    deprecated_id: str
    earlier_id: str  # the edit of the same version received first


def conflicting_edits(versions: Iterable[Version]) -> tuple[Conflict, ...]:
    """Every edit that replaces a version another edit already replaced, by arrival (``received_order``):
    the first edit of a version is not a conflict, each later one is. Which version is *current* is
    still :func:`resolve_chain`'s answer; this only says which edits a reviewer must look at."""
    by_parent: dict[str, list[Version]] = {}
    for v in _by_id(versions).values():
        if v.deprecated_id is not None:
            by_parent.setdefault(v.deprecated_id, []).append(v)
    found: list[Conflict] = []
    for parent, edits in sorted(by_parent.items()):
        first, *later = sorted(edits, key=lambda v: (v.received_order, v.instance_id))
        found.extend(Conflict(v.instance_id, parent, first.instance_id) for v in later)
    return tuple(found)
