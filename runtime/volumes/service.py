"""Named volumes (implements ``runtime.parts.VolumeStore``).

A volume is a directory ``<volumes_dir>/<name>/_data`` plus one row in the
``volumes`` table (driver, options, labels, creation time). Only the "local"
driver exists. Whether a volume is in use is a cross-part rule and lives in
``runtime.engine.LocalEngine``; this store only keeps the data.

Invariant: a row exists iff its ``_data`` directory was made; ``create`` makes the
directory before committing the row, ``remove`` deletes the row first, so a crash
leaves at worst an orphan directory (never a row without data).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from runtime.api import VolumeConfig, VolumeInfo, labels_match
from runtime.config import EngineConfig
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.events import EventLog
from runtime.metadata import Metadata

log = logging.getLogger(__name__)

_DDL = """
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    driver_opts TEXT NOT NULL,
    labels TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""

# Docker's rule for volume names: it also keeps a name usable as a directory.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class VolumeService:
    def __init__(self, config: EngineConfig, metadata: Metadata, events: EventLog) -> None:
        self.config = config
        self.md = metadata
        self.events = events
        self.md.ensure_schema("volumes", 1, _DDL)

    def create(self, config: VolumeConfig) -> VolumeInfo:
        """Idempotent: an existing volume of that name is returned as it is (like Docker)."""
        if not _NAME.match(config.name):
            raise InvalidArgument(f'volume "{config.name}": invalid name, only '
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if config.driver != "local":
            raise InvalidArgument(f'volume "{config.name}": driver "{config.driver}" is not '
                                  'supported (only "local")')
        existing = self._row(config.name)
        if existing is not None:
            return self._info(existing)
        data = self.data_dir(config.name)
        data.mkdir(parents=True, exist_ok=True)
        now = time.time()
        with self.md.transaction() as db:
            db.execute(
                "INSERT INTO volumes(name, driver, driver_opts, labels, created_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT(name) DO NOTHING",
                (config.name, config.driver, json.dumps(dict(config.driver_opts)),
                 json.dumps(dict(config.labels)), now),
            )
        self.events.emit("volume", "create", config.name, {"name": config.name, **config.labels})
        log.debug("created volume %s", config.name)
        return self.get(config.name)

    def get(self, name: str) -> VolumeInfo:
        row = self._row(name)
        if row is None:
            raise NotFound(f'volume "{name}" not found')
        return self._info(row)

    def remove(self, name: str) -> None:
        row = self._row(name)
        if row is None:
            raise NotFound(f'volume "{name}" not found')
        with self.md.transaction() as db:
            db.execute("DELETE FROM volumes WHERE name = ?", (name,))
        try:
            shutil.rmtree(self.config.volumes_dir / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise Conflict(f'volume "{name}": cannot delete its data: {exc}') from exc
        self.events.emit("volume", "destroy", name, {"name": name})

    def list(self, *, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]:
        rows = self.md.query("SELECT * FROM volumes ORDER BY name")
        infos = [self._info(dict(r)) for r in rows]
        return [v for v in infos if labels_match(v.labels, labels)]

    def data_dir(self, name: str) -> Path:
        return self.config.volumes_dir / name / "_data"

    # --- internals -------------------------------------------------------------

    def _row(self, name: str) -> dict[str, object] | None:
        rows = self.md.query("SELECT * FROM volumes WHERE name = ?", (name,))
        return dict(rows[0]) if rows else None

    def _info(self, row: Mapping[str, object]) -> VolumeInfo:
        name = str(row["name"])
        return VolumeInfo(
            name=name,
            driver=str(row["driver"]),
            mountpoint=str(self.data_dir(name)),
            labels=json.loads(str(row["labels"])),
            created_at=float(row["created_at"]),  # type: ignore[arg-type]
        )
