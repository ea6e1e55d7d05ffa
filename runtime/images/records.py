"""Image records in the metadata database, one transaction per change.

    images         one row per image (id = config digest): manifest, config, layers
    image_tags     "registry/repo:tag" -> image id (a tag names one image)
    image_digests  "registry/repo@digest" -> image id (where it was pulled from / pushed to)

Blobs and unpacked layers live on disk (blobs.py, unpack.py); these rows say
which of them belong to which image. Rows are written only after the blobs
they name are in the store, so a record never points at missing content.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from runtime.errors import NotFound
from runtime.metadata import Metadata

_DDL = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    config_json TEXT NOT NULL,
    layers TEXT NOT NULL,
    size INTEGER NOT NULL,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS image_tags (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS image_tags_image ON image_tags(image_id);
CREATE TABLE IF NOT EXISTS image_digests (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS image_digests_image ON image_digests(image_id)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerRecord:
    digest: str  # blob digest (compressed, as in the manifest)
    media_type: str
    size: int
    diff_id: str  # uncompressed digest (rootfs.diff_ids)
    chain_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRecord:
    id: str
    manifest_digest: str
    manifest_media_type: str
    config_json: str
    layers: tuple[LayerRecord, ...]
    size: int
    added: float
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()


def _layers_json(layers: tuple[LayerRecord, ...]) -> str:
    return json.dumps([{"digest": x.digest, "media_type": x.media_type, "size": x.size,
                        "diff_id": x.diff_id, "chain_id": x.chain_id} for x in layers])


class ImageRecords:
    def __init__(self, metadata: Metadata) -> None:
        self.md = metadata
        self.md.ensure_schema("images", 1, _DDL)

    def _row(self, row: sqlite3.Row) -> ImageRecord:
        image_id = row["id"]
        tags = tuple(r["name"] for r in self.md.query(
            "SELECT name FROM image_tags WHERE image_id = ? ORDER BY name", (image_id,)))
        digests = tuple(r["name"] for r in self.md.query(
            "SELECT name FROM image_digests WHERE image_id = ? ORDER BY name", (image_id,)))
        return ImageRecord(
            id=image_id, manifest_digest=row["manifest_digest"],
            manifest_media_type=row["manifest_media_type"], config_json=row["config_json"],
            layers=tuple(LayerRecord(**x) for x in json.loads(row["layers"])),
            size=row["size"], added=row["added"], tags=tags, digests=digests)

    def get(self, image_id: str) -> ImageRecord:
        rows = self.md.query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFound(f'image "{image_id}" not found')
        return self._row(rows[0])

    def find(self, image_id: str) -> ImageRecord | None:
        rows = self.md.query("SELECT * FROM images WHERE id = ?", (image_id,))
        return self._row(rows[0]) if rows else None

    def by_prefix(self, prefix: str) -> list[str]:
        """Image ids starting with ``sha256:<prefix>``."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return [r["id"] for r in self.md.query(
            "SELECT id FROM images WHERE id LIKE ? ESCAPE '\\'", (f"sha256:{escaped}%",))]

    def by_tag(self, name: str) -> str | None:
        rows = self.md.query("SELECT image_id FROM image_tags WHERE name = ?", (name,))
        return rows[0]["image_id"] if rows else None

    def by_digest(self, name: str) -> str | None:
        rows = self.md.query("SELECT image_id FROM image_digests WHERE name = ?", (name,))
        return rows[0]["image_id"] if rows else None

    def all(self) -> list[ImageRecord]:
        return [self._row(r) for r in self.md.query("SELECT * FROM images ORDER BY added DESC")]

    def save(self, record: ImageRecord, *, tags: tuple[str, ...] = (),
             digests: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        """Insert or refresh an image and point ``tags``/``digests`` at it, in one transaction.

        Returns (tag, previous image id) for each tag that moved from another image.
        """
        moved: list[tuple[str, str]] = []
        with self.md.transaction() as db:
            db.execute(
                "INSERT INTO images(id, manifest_digest, manifest_media_type, config_json, layers,"
                " size, added) VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                " manifest_digest = excluded.manifest_digest,"
                " manifest_media_type = excluded.manifest_media_type,"
                " layers = excluded.layers, size = excluded.size",
                (record.id, record.manifest_digest, record.manifest_media_type,
                 record.config_json, _layers_json(record.layers), record.size,
                 record.added or time.time()))
            for tag in tags:
                prev = db.execute("SELECT image_id FROM image_tags WHERE name = ?",
                                  (tag,)).fetchone()
                if prev is not None and prev["image_id"] != record.id:
                    moved.append((tag, prev["image_id"]))
                db.execute("INSERT INTO image_tags(name, image_id) VALUES (?, ?) ON CONFLICT(name)"
                           " DO UPDATE SET image_id = excluded.image_id", (tag, record.id))
            for digest in digests:
                db.execute("INSERT INTO image_digests(name, image_id) VALUES (?, ?)"
                           " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                           (digest, record.id))
        return moved

    def tag(self, image_id: str, name: str) -> str | None:
        """Point tag ``name`` at ``image_id``; returns the image it pointed at before, if other."""
        with self.md.transaction() as db:
            prev = db.execute("SELECT image_id FROM image_tags WHERE name = ?", (name,)).fetchone()
            db.execute("INSERT INTO image_tags(name, image_id) VALUES (?, ?) ON CONFLICT(name)"
                       " DO UPDATE SET image_id = excluded.image_id", (name, image_id))
        if prev is not None and prev["image_id"] != image_id:
            return str(prev["image_id"])
        return None

    def add_digest(self, image_id: str, name: str) -> None:
        with self.md.transaction() as db:
            db.execute("INSERT INTO image_digests(name, image_id) VALUES (?, ?) ON CONFLICT(name)"
                       " DO UPDATE SET image_id = excluded.image_id", (name, image_id))

    def untag(self, name: str) -> bool:
        with self.md.transaction() as db:
            cur = db.execute("DELETE FROM image_tags WHERE name = ?", (name,))
            return cur.rowcount > 0

    def delete(self, image_id: str) -> None:
        """The image row with its tags and digests (cascade), in one transaction."""
        with self.md.transaction() as db:
            db.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
            db.execute("DELETE FROM image_digests WHERE image_id = ?", (image_id,))
            db.execute("DELETE FROM images WHERE id = ?", (image_id,))
