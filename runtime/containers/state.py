"""Container records in SQLite, and their reconciliation with what really runs.

The record is the engine's memory of a container; the truth about a running one
is conmon's exit file and runc's state. ``observe`` compares the two without
writing; the service applies the outcome in one transaction guarded by the
previous state, so when two processes (CLI and stackd) reconcile at once only
one of them records the exit and emits "die".
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.api import (
    ContainerConfig,
    ContainerInfo,
    ContainerState,
    EndpointInfo,
    PortBinding,
    labels_match,
)
from runtime.containers import cgroups, codec
from runtime.containers.conmon import MonitorPaths, process_alive
from runtime.containers.runc import Runc
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.metadata import Metadata

log = logging.getLogger(__name__)

_DDL = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image TEXT NOT NULL,
    image_id TEXT NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER,
    exit_code INTEGER,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    restart_count INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    networks TEXT NOT NULL DEFAULT '[]',
    ports TEXT NOT NULL DEFAULT '[]',
    anon_volumes TEXT NOT NULL DEFAULT '[]',
    stop_requested INTEGER NOT NULL DEFAULT 0
)
"""

# States in which conmon is (or should be) watching a container.
LIVE_STATES = (ContainerState.RUNNING, ContainerState.PAUSED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str
    config: ContainerConfig
    state: ContainerState
    pid: int | None = None
    exit_code: int | None = None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    restart_count: int = 0
    error: str = ""
    networks: tuple[EndpointInfo, ...] = ()
    ports: tuple[PortBinding, ...] = ()
    anon_volumes: tuple[tuple[str, str], ...] = ()  # (target, volume name)
    stop_requested: bool = False

    def info(self) -> ContainerInfo:
        return ContainerInfo(
            id=self.id, name=self.name, image=self.image, image_id=self.image_id,
            config=self.config, state=self.state,
            pid=self.pid if self.state in LIVE_STATES else None,
            exit_code=self.exit_code, created_at=self.created_at, started_at=self.started_at,
            finished_at=self.finished_at, restart_count=self.restart_count,
            networks=self.networks, ports=self.ports, error=self.error,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """What reconciliation found for a live record (``None`` fields: unchanged)."""

    state: ContainerState
    exit_code: int | None = None
    finished_at: float | None = None


class ContainerStore:
    def __init__(self, metadata: Metadata) -> None:
        self.md = metadata
        self.md.ensure_schema("containers", 1, _DDL)

    def insert(self, record: ContainerRecord) -> None:
        row = _to_row(record)
        try:
            with self.md.transaction() as db:
                if db.execute("SELECT 1 FROM containers WHERE name = ?", (record.name,)).fetchone():
                    raise Conflict(f'container name "{record.name}" is already in use: '
                                   "remove that container or choose another name")
                db.execute(f"INSERT INTO containers({', '.join(row)}) "
                           f"VALUES ({', '.join('?' for _ in row)})", tuple(row.values()))
        except Conflict:
            raise
        except Exception as exc:  # sqlite3.IntegrityError on a race for the same name
            if "UNIQUE" in str(exc):
                raise Conflict(f'container name "{record.name}" is already in use') from exc
            raise

    def update(self, record: ContainerRecord, *, fields: Sequence[str] | None = None,
               expect_state: ContainerState | None = None,
               expect_started_at: float | None = None) -> bool:
        """Write ``record`` (only its ``fields`` when given, so that a writer holding an
        older copy cannot undo another's change to the rest); with ``expect_*`` only if
        the stored row still has them (compare-and-set). Returns whether it was written."""
        row = _to_row(record)
        if fields is not None:
            row = {k: row[k] for k in fields}
        sql = f"UPDATE containers SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?"
        params: list[Any] = [*row.values(), record.id]
        if expect_state is not None:
            sql += " AND state = ?"
            params.append(expect_state.value)
        if expect_started_at is not None:
            sql += " AND started_at = ?"
            params.append(expect_started_at)
        with self.md.transaction() as db:
            return db.execute(sql, params).rowcount == 1

    def delete(self, cid: str) -> None:
        with self.md.transaction() as db:
            db.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def get(self, cid: str) -> ContainerRecord:
        rows = self.md.query("SELECT * FROM containers WHERE id = ?", (cid,))
        if not rows:
            raise NotFound(f'container "{cid[:12]}" not found')
        return _from_row(rows[0])

    def find(self, ref: str) -> ContainerRecord:
        """By full id, name, or unique id prefix (Docker's order)."""
        if not ref:
            raise InvalidArgument("container reference is empty")
        rows = self.md.query("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, ref))
        if not rows and all(c in "0123456789abcdef" for c in ref):
            rows = self.md.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise InvalidArgument(f'container id prefix "{ref}" is ambiguous: '
                                      f"{len(rows)} containers match")
        if not rows:
            raise NotFound(f'container "{ref}" not found')
        return _from_row(rows[0])

    def all(self, *, labels: Mapping[str, str] | None = None) -> list[ContainerRecord]:
        records = [_from_row(r) for r in self.md.query(
            "SELECT * FROM containers ORDER BY created_at DESC")]
        return [r for r in records if labels_match(r.config.labels, labels)]


def observe(record: ContainerRecord, *, monitor: MonitorPaths, runc: Runc) -> Observed | None:
    """Compare a live record with conmon's exit file and the kernel; None when nothing changed.

    Order matters: the exit file is the final word (conmon writes it after reaping
    PID 1); only without it is PID 1 looked at (alive, in the container's cgroup,
    frozen or not; runc is asked only when that cannot tell), and a container
    whose PID 1 and monitor are both gone is "dead" (its exit code is unknowable).
    Cheap on purpose (no process per container): every list runs it on each one.
    """
    if record.state not in LIVE_STATES:
        return None
    code = monitor.exit_code()
    if code is not None:
        try:
            finished = monitor.exit_file.stat().st_mtime
        except FileNotFoundError:
            finished = time.time()
        return Observed(state=ContainerState.EXITED, exit_code=code, finished_at=finished)
    if record.pid is not None and process_alive(record.pid):
        # A list looks at every container: the freezer file says running or paused
        # without a process; only when it cannot tell is runc asked.
        is_frozen = cgroups.frozen(record.pid, record.id)
        if is_frozen is None:
            status = (runc.state(record.id) or {}).get("status")
        else:
            status = "paused" if is_frozen else "running"
        if status == "paused" and record.state != ContainerState.PAUSED:
            return Observed(state=ContainerState.PAUSED)
        if status == "running" and record.state != ContainerState.PAUSED:
            return None
        if status == "running" and record.state == ContainerState.PAUSED:
            return Observed(state=ContainerState.RUNNING)
        if status in ("paused", "running"):
            return None
    conmon_pid = monitor.conmon_pid()
    if conmon_pid is not None and process_alive(conmon_pid):
        # PID 1 is gone but conmon has not written the exit file yet: wait for it.
        return None
    # conmon may have written the file and exited since we first looked.
    code = monitor.exit_code()
    if code is not None:
        return Observed(state=ContainerState.EXITED, exit_code=code,
                        finished_at=monitor.exit_file.stat().st_mtime)
    return Observed(state=ContainerState.DEAD, exit_code=-1, finished_at=time.time())


def _to_row(record: ContainerRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "image": record.image,
        "image_id": record.image_id, "config": json.dumps(codec.to_data(record.config)),
        "state": record.state.value, "pid": record.pid, "exit_code": record.exit_code,
        "created_at": record.created_at, "started_at": record.started_at,
        "finished_at": record.finished_at, "restart_count": record.restart_count,
        "error": record.error,
        "networks": json.dumps(codec.to_data(record.networks)),
        "ports": json.dumps(codec.to_data(record.ports)),
        "anon_volumes": json.dumps([list(p) for p in record.anon_volumes]),
        "stop_requested": int(record.stop_requested),
    }


@functools.lru_cache(maxsize=1024)
def _config(text: str) -> ContainerConfig:
    """A stored config, decoded once: it never changes after create, and every listing
    reads every container's (frozen: one value may serve every record that has it)."""
    return codec.from_data(ContainerConfig, json.loads(text))


def _from_row(row: Any) -> ContainerRecord:
    return ContainerRecord(
        id=row["id"], name=row["name"], image=row["image"], image_id=row["image_id"],
        config=_config(row["config"]),
        state=ContainerState(row["state"]), pid=row["pid"], exit_code=row["exit_code"],
        created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], restart_count=row["restart_count"],
        error=row["error"],
        networks=tuple(codec.from_data(EndpointInfo, n) for n in json.loads(row["networks"])),
        ports=tuple(codec.from_data(PortBinding, p) for p in json.loads(row["ports"])),
        anon_volumes=tuple((t, n) for t, n in json.loads(row["anon_volumes"])),
        stop_requested=bool(row["stop_requested"]),
    )


def replace(record: ContainerRecord, **changes: Any) -> ContainerRecord:
    return dataclasses.replace(record, **changes)


def pid_is_container(pid: int, cid: str) -> bool:
    """Guards against PID reuse: the process must sit in the container's cgroup."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return cid in f.read()
    except OSError:
        return False


__all__ = ["LIVE_STATES", "ContainerRecord", "ContainerStore", "Observed", "observe",
           "pid_is_container", "replace"]
