"""Merged lookups over a stack of plain layer directories."""

from __future__ import annotations

from pathlib import Path

from runtime.images.build.rootview import RootView


def test_upper_wins_and_listing_merges(tmp_path: Path) -> None:
    low, up = tmp_path / "low", tmp_path / "up"
    (low / "d").mkdir(parents=True)
    (up / "d").mkdir(parents=True)
    (low / "d" / "a").write_text("low")
    (low / "d" / "b").write_text("low")
    (up / "d" / "a").write_text("up")
    (up / "file").write_text("x")
    view = RootView([low, up])
    assert view.read("/d/a") == b"up"
    assert view.read("d/b") == b"low"
    assert view.listdir("/d") == ["a", "b"]
    assert view.listdir("/") == ["d", "file"]
    assert view.lookup("/file/below") is None
    assert [p for p, _, _ in view.walk("/d")] == ["/d/a", "/d/b"]


def test_resolve_symlinks_inside_the_root(tmp_path: Path) -> None:
    layer = tmp_path / "l"
    (layer / "usr" / "lib").mkdir(parents=True)
    (layer / "lib").symlink_to("usr/lib")
    (layer / "abs").symlink_to("/usr")
    (layer / "up").symlink_to("../../../../usr")
    view = RootView([layer])
    assert view.resolve("/lib/x") == "/usr/lib/x"
    assert view.resolve("/abs/lib") == "/usr/lib"
    assert view.resolve("/up/lib") == "/usr/lib"
    assert view.resolve("/lib", follow_last=False) == "/lib"
    assert view.is_dir("/lib")
