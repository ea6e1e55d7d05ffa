"""The engine's metadata store: one SQLite file in WAL mode.

Each part (images, containers, networks, volumes) declares its own tables with
``Metadata.ensure_schema``; every change runs in one transaction
(``with md.transaction() as db:``), so a crash never leaves half-written
records. Several processes (CLI, stackd, tests) may open the same file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Metadata:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (part TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self._connect()
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> list[sqlite3.Row]:
        """A read outside any write transaction."""
        return list(self._connect().execute(sql, params))

    def ensure_schema(self, part: str, version: int, ddl: str) -> None:
        """Create ``part``'s tables once (``ddl`` is a script of CREATE ... IF NOT EXISTS)."""
        rows = self.query("SELECT version FROM schema_versions WHERE part = ?", (part,))
        if rows and rows[0]["version"] >= version:
            return
        with self.transaction() as db:
            for statement in ddl.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT INTO schema_versions(part, version) VALUES (?, ?) "
                "ON CONFLICT(part) DO UPDATE SET version = excluded.version",
                (part, version),
            )

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
