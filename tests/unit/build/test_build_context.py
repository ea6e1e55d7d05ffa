"""The build context: .dockerignore applied to the walk, COPY sources, digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import NotFound
from runtime.images.build.context import BuildContext


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def test_walk_applies_dockerignore(tmp_path: Path) -> None:
    _tree(tmp_path, {".dockerignore": "*.log\nsecret/\ndocs\n!docs/keep.md\n",
                     "a.txt": "a", "b.log": "b", "secret/key": "k", "docs/x.md": "x",
                     "docs/keep.md": "k", "src/main.c": "int main;"})
    ctx = BuildContext(tmp_path)
    assert sorted(ctx.paths) == [".dockerignore", "a.txt", "docs", "docs/keep.md", "src",
                                 "src/main.c"]


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    _tree(tmp_path, {".dockerignore": "a.txt\n", "app.Dockerfile": "FROM x\n",
                     "app.Dockerfile.dockerignore": "b.txt\n", "a.txt": "", "b.txt": ""})
    ctx = BuildContext(tmp_path, dockerfile=tmp_path / "app.Dockerfile")
    assert "a.txt" in ctx.paths and "b.txt" not in ctx.paths


def test_match_plain_wildcard_and_escape(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.txt": "", "b.txt": "", "d/c.txt": ""})
    ctx = BuildContext(tmp_path)
    assert ctx.match("*.txt") == ["a.txt", "b.txt"]
    assert ctx.match("d/*.txt") == ["d/c.txt"]
    assert ctx.match("../../a.txt") == ["a.txt"]
    assert ctx.match(".") == ["."]
    with pytest.raises(NotFound, match=r'COPY source "nope\.txt": not found'):
        ctx.match("nope.txt")
    with pytest.raises(NotFound, match="no file in the build context matches"):
        ctx.match("*.md")


def test_digest_follows_content_not_times(tmp_path: Path) -> None:
    import os

    _tree(tmp_path, {"d/a": "1", "d/b": "2"})
    first = BuildContext(tmp_path).digest(["d"])
    os.utime(tmp_path / "d/a", (1, 1))
    assert BuildContext(tmp_path).digest(["d"]) == first
    (tmp_path / "d/b").write_text("3")
    assert BuildContext(tmp_path).digest(["d"]) != first
    (tmp_path / "d/b").chmod(0o755)
    assert BuildContext(tmp_path).digest(["d/a"]) == BuildContext(tmp_path).digest(["d/a"])
