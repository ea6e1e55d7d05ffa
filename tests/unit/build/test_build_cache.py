"""The step cache: keys and rows."""

from __future__ import annotations

from pathlib import Path

from runtime.images.build.cache import BuildCache, CachedLayer, CacheEntry, step_key
from runtime.metadata import Metadata


def test_step_key_depends_on_every_input() -> None:
    base = step_key("p", "RUN make", ["ARG A=1"])
    assert base == step_key("p", "RUN make", ["ARG A=1"])
    assert base != step_key("q", "RUN make", ["ARG A=1"])
    assert base != step_key("p", "RUN make ", ["ARG A=1"])
    assert base != step_key("p", "RUN make", ["ARG A=2"])
    assert step_key("p", "a", ["b"]) != step_key("p", "a\0b")


def test_put_get_blobs(tmp_path: Path) -> None:
    md = Metadata(tmp_path / "md.db")
    try:
        cache = BuildCache(md)
        layer = CachedLayer(digest="sha256:" + "a" * 64, diff_id="sha256:" + "b" * 64, size=3,
                            media_type="application/vnd.oci.image.layer.v1.tar+gzip")
        cache.put(CacheEntry(key="k1", created=1.5, layer=layer))
        cache.put(CacheEntry(key="k2", created=2.5))
        assert cache.get("k1") == CacheEntry(key="k1", created=1.5, layer=layer)
        assert cache.get("k2") == CacheEntry(key="k2", created=2.5)
        assert cache.get("nope") is None
        assert cache.blobs() == {layer.digest}
        assert cache.clear() == 2
    finally:
        md.close()
