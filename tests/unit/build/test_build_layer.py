"""Layer tars from directories, and which runc-made paths a RUN layer leaves out."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from runtime.images.build.layer import write_diff
from runtime.images.build.rootview import RootView
from runtime.images.build.run import RUNC_TARGETS, runc_made


def _names(upper: Path, skip: set[str] | None = None) -> list[str]:
    buf = io.BytesIO()
    write_diff(upper, buf, skip=skip or set())
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        return [m.name for m in tar.getmembers()]


def test_diff_is_sorted_and_reproducible(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "b").mkdir(parents=True)
    (upper / "b" / "z").write_text("z")
    (upper / "a").write_text("a")
    os.link(upper / "a", upper / "b" / "hard")
    (upper / "link").symlink_to("a")
    first = io.BytesIO()
    write_diff(upper, first)
    second = io.BytesIO()
    write_diff(upper, second)
    assert first.getvalue() == second.getvalue()
    first.seek(0)
    with tarfile.open(fileobj=first) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["a", "b", "b/hard", "b/z", "link"]
    assert members["b/hard"].islnk() and members["b/hard"].linkname == "a"
    assert members["link"].issym() and members["a"].uname == ""


def test_runc_mount_points_are_left_out(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    for name in ("hosts", "hostname", "resolv.conf"):
        (upper / "etc" / name).touch()
    for name in ("proc", "sys", "dev"):
        (upper / name).mkdir()
    (upper / "made").write_text("by the step")
    os.chmod(upper / "etc", os.stat(lower / "etc").st_mode)
    skip = runc_made(upper, RootView([lower]), RUNC_TARGETS)
    assert _names(upper, skip) == ["made"]
    (upper / "etc" / "new.conf").write_text("x")  # a real change keeps /etc
    skip = runc_made(upper, RootView([lower]), RUNC_TARGETS)
    assert _names(upper, skip) == ["etc", "etc/new.conf", "made"]
