"""COPY/ADD into a layer tar, against plain directories standing in for layers."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from runtime.errors import InvalidArgument
from runtime.images.build.context import BuildContext
from runtime.images.build.copy import CopySpec, Owner, resolve_owner, write_copy
from runtime.images.build.layer import LayerWriter
from runtime.images.build.rootview import RootView


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def _copy(spec: CopySpec, *, context: Path, lower: Path) -> dict[str, tarfile.TarInfo]:
    buf = io.BytesIO()
    writer = LayerWriter(buf)
    write_copy(spec, writer=writer, view=RootView([lower]), context=BuildContext(context),
               source_view=None, where="Dockerfile:3")
    writer.close()
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


@pytest.fixture
def lower(tmp_path: Path) -> Path:
    root = _tree(tmp_path / "lower", {"etc/passwd": "root:x:0:0::/root:/bin/sh\n"
                                                    "app:x:1000:1001::/home/app:/bin/sh\n",
                                      "etc/group": "root:x:0:\nstaff:x:50:\n"})
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    return root


def test_file_dir_and_parents(tmp_path: Path, lower: Path) -> None:
    ctx = _tree(tmp_path / "ctx", {"a.txt": "a", "src/x/y.txt": "y", "src/z.txt": "z"})
    names = _copy(CopySpec(sources=("a.txt", "src"), dest="/opt/app/"), context=ctx, lower=lower)
    assert sorted(names) == ["opt", "opt/app", "opt/app/a.txt", "opt/app/x", "opt/app/x/y.txt",
                             "opt/app/z.txt"]
    assert all(m.uid == 0 and m.gid == 0 for m in names.values())


def test_single_file_renamed_and_symlinked_dest(tmp_path: Path, lower: Path) -> None:
    ctx = _tree(tmp_path / "ctx", {"tool.sh": "#!/bin/sh\n"})
    names = _copy(CopySpec(sources=("tool.sh",), dest="/bin/tool", mode=0o755), context=ctx,
                  lower=lower)
    assert list(names) == ["usr/bin/tool"]  # /bin -> usr/bin resolved; usr/bin exists
    assert names["usr/bin/tool"].mode == 0o755


def test_many_sources_need_a_directory(tmp_path: Path, lower: Path) -> None:
    ctx = _tree(tmp_path / "ctx", {"a": "", "b": ""})
    with pytest.raises(InvalidArgument, match="Dockerfile:3: when using COPY with more than one"):
        _copy(CopySpec(sources=("a", "b"), dest="/x"), context=ctx, lower=lower)


def test_chown_by_name_and_heredoc(tmp_path: Path, lower: Path) -> None:
    view = RootView([lower])
    assert resolve_owner("app", view) == Owner(uid=1000, gid=1000)
    assert resolve_owner("app:staff", view) == Owner(uid=1000, gid=50)
    assert resolve_owner("7:8", view) == Owner(uid=7, gid=8)
    with pytest.raises(InvalidArgument, match='user "nobody" not found'):
        resolve_owner("nobody", view)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    names = _copy(CopySpec(sources=("EOF",), dest="/etc/conf", heredocs=(("EOF", b"k=v\n"),),
                           owner=Owner(uid=5, gid=6)), context=ctx, lower=lower)
    assert (names["etc/conf"].uid, names["etc/conf"].size) == (5, 4)


def test_add_unpacks_archives(tmp_path: Path, lower: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with tarfile.open(ctx / "a.tar", "w") as tar:
        info = tarfile.TarInfo("d/f")
        info.size = 2
        info.uid = 9
        tar.addfile(info, io.BytesIO(b"hi"))
    names = _copy(CopySpec(sources=("a.tar",), dest="/srv/", add=True), context=ctx,
                  lower=lower)
    assert names["srv/d/f"].uid == 9 and "srv" in names
    copied = _copy(CopySpec(sources=("a.tar",), dest="/srv/"), context=ctx, lower=lower)
    assert "srv/a.tar" in copied


def test_url_sources_are_refused(tmp_path: Path, lower: Path) -> None:
    with pytest.raises(InvalidArgument, match="ADD from a URL"):
        _copy(CopySpec(sources=("http://x/y",), dest="/", add=True), context=tmp_path,
              lower=lower)


def test_resolve_user_uses_the_primary_group(lower: Path) -> None:
    from runtime.images.build.copy import resolve_user

    view = RootView([lower])
    assert resolve_user("app", view) == Owner(uid=1000, gid=1001)
    assert resolve_user("1000", view) == Owner(uid=1000, gid=1001)
    assert resolve_user("42", view) == Owner(uid=42, gid=0)
    assert resolve_user("app:staff", view) == Owner(uid=1000, gid=50)
    with pytest.raises(InvalidArgument, match='user "ghost" not found'):
        resolve_user("ghost", view)
