"""Is a point inside one of a project's countries? Pure Python over simplified country outlines.

The outlines (``lac_countries.json``, ~60 kB) are Natural Earth's 1:50m admin-0 countries of Latin America
and the Caribbean, outer rings only, simplified to 0.05 degrees. Simplification moves coastlines and
borders by up to a few kilometres, so a point counts as inside when it is within ``TOLERANCE_DEG`` of a
country's outline: a household interviewed on a beach or at a border crossing must not be flagged.
Countries with no outline here (outside the region, or a few overseas territories) cannot be checked;
the caller then skips the check rather than guess.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

TOLERANCE_DEG = 0.15  # about 16 km at the equator

_DATA = Path(__file__).with_name("lac_countries.json")

Ring = list[tuple[float, float]]  # (lon, lat) pairs, closed or not


@lru_cache(maxsize=1)
def _outlines() -> dict[str, dict[str, Any]]:
    raw = json.loads(_DATA.read_text(encoding="utf-8"))["countries"]
    return {
        iso3: {"name": c["name"], "bbox": tuple(c["bbox"]), "rings": [_ring(r) for r in c["rings"]]}
        for iso3, c in raw.items()
    }


def _ring(points: list[list[float]]) -> tuple[tuple[float, float, float, float], Ring]:
    """A ring with its own bounding box: most of a country's rings (islands) are skipped by it."""
    ring = [(float(x), float(y)) for x, y in points]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return (min(xs), min(ys), max(xs), max(ys)), ring


def known_countries() -> frozenset[str]:
    """ISO3 codes that have an outline."""
    return frozenset(_outlines())


def country_name(iso3: str) -> str:
    found = _outlines().get(iso3)
    return found["name"] if found else iso3


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    """Even-odd ray casting."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _segment_distance(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return math.hypot(x - x1, y - y1)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


def _near_ring(x: float, y: float, ring: Ring, tolerance: float) -> bool:
    return any(_segment_distance(x, y, ring[i - 1], ring[i]) <= tolerance for i in range(len(ring)))


def in_country(lat: float, lon: float, iso3: str, tolerance: float = TOLERANCE_DEG) -> bool:
    """True when (lat, lon) is inside the country's outline or within ``tolerance`` degrees of it."""
    country = _outlines()[iso3]
    min_x, min_y, max_x, max_y = country["bbox"]
    if not (min_x - tolerance <= lon <= max_x + tolerance and min_y - tolerance <= lat <= max_y + tolerance):
        return False
    rings: list[Ring] = [
        ring
        for (x0, y0, x1, y1), ring in country["rings"]
        if x0 - tolerance <= lon <= x1 + tolerance and y0 - tolerance <= lat <= y1 + tolerance
    ]
    return any(_in_ring(lon, lat, r) for r in rings) or any(_near_ring(lon, lat, r, tolerance) for r in rings)


def outside_all(lat: float, lon: float, countries: list[str]) -> bool | None:
    """True when the point is in none of ``countries``; None when some country has no outline (the
    point might be in that one, so nothing can be said)."""
    known = _outlines()
    if not countries or any(c not in known for c in countries):
        return None
    # Interviews cluster at a few sites (border posts, terminals, shelters): answers are remembered per
    # 0.01 degree (about 1 km, far inside the tolerance), so the polygon test runs once per site.
    return _outside_rounded(round(lat, 2), round(lon, 2), tuple(countries))


@lru_cache(maxsize=8192)
def _outside_rounded(lat: float, lon: float, countries: tuple[str, ...]) -> bool:
    return not any(in_country(lat, lon, c) for c in countries)
