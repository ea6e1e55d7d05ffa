"""What the supervisor remembers per container, in the engine's metadata database.

Kept in SQLite (not memory) so a restarted stackd resumes where the last one
stopped: restart counts, whether the user stopped a container (then no policy
restarts it), which exit was already handled, and the health status and log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from runtime.api import HealthLogEntry, HealthStatus
from runtime.metadata import Metadata

_DDL = """
CREATE TABLE IF NOT EXISTS supervised (
    id TEXT PRIMARY KEY,
    restart_count INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    user_stopped_at REAL,
    handled_exit REAL,
    health TEXT NOT NULL DEFAULT 'none',
    failing_streak INTEGER NOT NULL DEFAULT 0,
    health_log TEXT NOT NULL DEFAULT '[]'
)
"""

HEALTH_LOG_KEEP = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Supervised:
    id: str
    restart_count: int = 0  # restarts done by the policy (shown by inspect)
    attempts: int = 0  # restarts counted against max_attempts (since the user's last start)
    user_stopped_at: float | None = None  # when the user last stopped or killed it
    handled_exit: float | None = None  # finished_at of the last exit the policy saw
    health: HealthStatus = HealthStatus.NONE
    failing_streak: int = 0
    health_log: tuple[HealthLogEntry, ...] = field(default_factory=tuple)

    def stopped_during(self, started_at: float | None) -> bool:
        """Did the user stop the run that began at ``started_at``? (A stop applies to the
        run it ended; any later start, by whoever, begins a run it does not apply to.)"""
        if self.user_stopped_at is None:
            return False
        return started_at is None or self.user_stopped_at >= started_at

    def with_probe(self, entry: HealthLogEntry) -> Supervised:
        log = (*self.health_log, entry)[-HEALTH_LOG_KEEP:]
        return replace(self, health_log=log)


class SupervisionStore:
    def __init__(self, metadata: Metadata) -> None:
        self.md = metadata
        self.md.ensure_schema("supervised", 1, _DDL)

    def get(self, cid: str) -> Supervised:
        rows = self.md.query("SELECT * FROM supervised WHERE id = ?", (cid,))
        return _from_row(rows[0]) if rows else Supervised(id=cid)

    def all(self) -> dict[str, Supervised]:
        return {r["id"]: _from_row(r) for r in self.md.query("SELECT * FROM supervised")}

    def put(self, item: Supervised) -> None:
        row = _to_row(item)
        with self.md.transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO supervised({', '.join(row)}) "
                       f"VALUES ({', '.join('?' for _ in row)})", tuple(row.values()))

    def delete(self, cid: str) -> None:
        with self.md.transaction() as db:
            db.execute("DELETE FROM supervised WHERE id = ?", (cid,))


def _to_row(item: Supervised) -> dict[str, Any]:
    return {
        "id": item.id, "restart_count": item.restart_count, "attempts": item.attempts,
        "user_stopped_at": item.user_stopped_at, "handled_exit": item.handled_exit,
        "health": item.health.value, "failing_streak": item.failing_streak,
        "health_log": json.dumps([{"start": e.start, "end": e.end, "exit_code": e.exit_code,
                                   "output": e.output} for e in item.health_log]),
    }


def _from_row(row: Any) -> Supervised:
    return Supervised(
        id=row["id"], restart_count=row["restart_count"], attempts=row["attempts"],
        user_stopped_at=row["user_stopped_at"], handled_exit=row["handled_exit"],
        health=HealthStatus(row["health"]), failing_streak=row["failing_streak"],
        health_log=tuple(HealthLogEntry(**e) for e in json.loads(row["health_log"])))
