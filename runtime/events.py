"""The engine's event log: every part records what happened here.

Events are rows in the metadata database, so every process that shares the
state root (the CLI, stackd, tests) sees the same stream. ``stream`` follows
the log by polling; the daemon may add a push path on top.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping

from runtime.api import Event
from runtime.metadata import Metadata

_DDL = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    object_id TEXT NOT NULL,
    attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events(time)
"""

# Keep the log bounded: older rows are dropped when it grows past this.
MAX_EVENTS = 10_000


class EventLog:
    def __init__(self, metadata: Metadata) -> None:
        self.md = metadata
        self.md.ensure_schema("events", 1, _DDL)

    def emit(self, type: str, action: str, object_id: str,
             attributes: Mapping[str, str] | None = None) -> None:
        with self.md.transaction() as db:
            cur = db.execute(
                "INSERT INTO events(time, type, action, object_id, attributes) VALUES (?,?,?,?,?)",
                (time.time(), type, action, object_id, json.dumps(dict(attributes or {}))),
            )
            seq = cur.lastrowid or 0
            if seq % 1000 == 0:
                db.execute("DELETE FROM events WHERE seq <= ?", (seq - MAX_EVENTS,))

    def stream(self, *, since: float | None = None, until: float | None = None,
               filters: Mapping[str, str] | None = None, follow: bool = False,
               poll_interval: float = 0.1) -> Iterator[Event]:
        """Events from ``since`` (default: now), until ``until`` or forever when ``follow``."""
        start = time.time() if since is None else since
        last_seq = 0
        rows = self.md.query("SELECT seq FROM events WHERE time < ? ORDER BY seq DESC LIMIT 1",
                             (start,))
        if rows:
            last_seq = rows[0]["seq"]
        while True:
            for row in self.md.query("SELECT * FROM events WHERE seq > ? ORDER BY seq", (last_seq,)):
                last_seq = row["seq"]
                if until is not None and row["time"] > until:
                    return
                event = Event(time=row["time"], type=row["type"], action=row["action"],
                              id=row["object_id"], attributes=json.loads(row["attributes"]))
                if _matches(event, filters):
                    yield event
            if not follow or (until is not None and time.time() > until):
                return
            time.sleep(poll_interval)


def _matches(event: Event, filters: Mapping[str, str] | None) -> bool:
    """Filters like Docker's: type=, event= (action), container=/image=/... (id or name), label=k=v."""
    for key, value in (filters or {}).items():
        if key == "type" and event.type != value:
            return False
        if key in ("event", "action") and event.action != value:
            return False
        if key in ("container", "image", "network", "volume") and (
                event.type != key or value not in (event.id, event.attributes.get("name"))):
            return False
        if key == "label":
            k, _, v = value.partition("=")
            if k not in event.attributes or (v and event.attributes[k] != v):
                return False
    return True
