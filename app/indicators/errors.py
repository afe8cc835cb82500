"""Errors raised while loading the indicator catalogue, and the collector that gathers them.

Loading reports every problem it finds at once, each naming the file and the key, so a person fixing a
catalogue change sees the whole list rather than one error per start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CatalogProblem:
    """One thing wrong in a catalogue file: ``file`` relative to the catalogue directory, ``key`` a
    dotted path inside it (``codes.f.label``)."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class CatalogError(ValueError):
    """The catalogue cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[CatalogProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid indicator catalogue ({len(problems)} problem(s)):\n{lines}")


@dataclass
class ProblemLog:
    """Collects problems while loading; ``raise_if_any`` ends the load when something was wrong."""

    problems: list[CatalogProblem] = field(default_factory=list)

    def add(self, file: str, key: str, message: str) -> None:
        self.problems.append(CatalogProblem(file, key, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise CatalogError(list(self.problems))
