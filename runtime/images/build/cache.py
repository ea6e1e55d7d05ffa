"""The build step cache: key -> what the step produced.

A key is ``sha256(parent key, instruction after substitution, inputs)``
(``step_key``), where inputs are what else the step reads: the build args a
RUN sees, the digests of the files a COPY reads, the base image id. So a key
names a whole history, and an equal key means an equal result. A step that
made a layer records the layer's blob and diff id; a step that only changed
the config records nothing but its creation time (kept so a rebuild makes a
byte-identical image config, hence the same image id).

Rows live in the engine's metadata database (table ``build_cache``); a hit
whose layer blob has since been deleted is treated as a miss by the builder.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from runtime.metadata import Metadata

_DDL = """
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    used REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedLayer:
    digest: str  # compressed blob
    diff_id: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    key: str
    created: float
    layer: CachedLayer | None = None


def step_key(parent: str, instruction: str, inputs: Iterable[str] = ()) -> str:
    """Pure: the key of a step from its parent's key, its text and its other inputs."""
    # JSON framing: no two different input lists serialise alike.
    data = json.dumps([parent, instruction, *inputs], separators=(",", ":"))
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


class BuildCache:
    def __init__(self, metadata: Metadata) -> None:
        self.md = metadata
        self.md.ensure_schema("build_cache", 1, _DDL)

    def get(self, key: str) -> CacheEntry | None:
        rows = self.md.query("SELECT result, created FROM build_cache WHERE key = ?", (key,))
        if not rows:
            return None
        doc = json.loads(rows[0]["result"])
        layer = CachedLayer(**doc["layer"]) if doc.get("layer") else None
        return CacheEntry(key=key, created=rows[0]["created"], layer=layer)

    def put(self, entry: CacheEntry) -> None:
        layer = entry.layer
        doc = {"layer": None if layer is None else {
            "digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size,
            "media_type": layer.media_type}}
        with self.md.transaction() as db:
            db.execute("INSERT INTO build_cache(key, result, created, used) VALUES (?,?,?,?) "
                       "ON CONFLICT(key) DO UPDATE SET result = excluded.result, "
                       "created = excluded.created, used = excluded.used",
                       (entry.key, json.dumps(doc), entry.created, time.time()))

    def touch(self, keys: Iterable[str]) -> None:
        now = time.time()
        with self.md.transaction() as db:
            db.executemany("UPDATE build_cache SET used = ? WHERE key = ?",
                           [(now, k) for k in keys])

    def forget(self, key: str) -> None:
        with self.md.transaction() as db:
            db.execute("DELETE FROM build_cache WHERE key = ?", (key,))

    def blobs(self) -> set[str]:
        """Layer blobs the cache refers to (garbage collection keeps them)."""
        out: set[str] = set()
        for row in self.md.query("SELECT result FROM build_cache"):
            layer = json.loads(row["result"]).get("layer")
            if layer:
                out.add(layer["digest"])
        return out

    def clear(self) -> int:
        with self.md.transaction() as db:
            return db.execute("DELETE FROM build_cache").rowcount
