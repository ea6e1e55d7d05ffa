"""Source positions beside plain data.

Stages work on plain ``dict``/``list``/scalars (as compose-go does). Each
YAML node's position is kept in a ``SourceMap``: a dict from the node's path
(tuple of keys and list indexes) to its ``Location``. Lookups fall back to the
nearest ancestor that has a position, so a value made by a later stage (a
default, a merged list) still points somewhere useful.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.errors import Location

Path = tuple[str | int, ...]


@dataclass(slots=True)
class SourceMap:
    positions: dict[Path, Location] = field(default_factory=dict)

    def add(self, path: Path, location: Location) -> None:
        self.positions[path] = location

    def locate(self, path: Path) -> Location | None:
        """The position of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            loc = self.positions.get(path[:end])
            if loc is not None:
                return loc
        return None

    def update(self, other: SourceMap, *, prefix: Path = ()) -> None:
        """Take every position of ``other`` (rebased under ``prefix``); ``other`` wins."""
        for path, loc in other.positions.items():
            self.positions[prefix + path] = loc

    def subtree(self, prefix: Path) -> SourceMap:
        """Positions under ``prefix``, re-rooted at ``()``."""
        n = len(prefix)
        return SourceMap({p[n:]: loc for p, loc in self.positions.items() if p[:n] == prefix})

    def move(self, old: Path, new: Path) -> None:
        """Re-key everything under ``old`` to ``new`` (used when a stage moves a node)."""
        n = len(old)
        moved = [(p, loc) for p, loc in self.positions.items() if p[:n] == old]
        for p, loc in moved:
            self.positions[new + p[n:]] = loc

    def paths(self) -> Iterable[Path]:
        return self.positions.keys()
