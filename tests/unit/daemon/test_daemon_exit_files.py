"""The reaper finds exits by conmon's exit files alone and reconciles each one once."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from runtime.daemon.reaper import Reaper
from runtime.errors import NotFound


class Engine:
    def __init__(self, run_dir: Path) -> None:
        self.config = SimpleNamespace(conmon_dir=run_dir / "conmon")
        self.inspected: list[str] = []

    def container_inspect(self, cid: str) -> None:
        self.inspected.append(cid)
        if cid == "gone":
            raise NotFound(f'container "{cid}" not found')


def exit_file(run_dir: Path, cid: str, text: str, mtime: int) -> None:
    path = run_dir / "conmon" / cid / cid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime, mtime))


def test_each_exit_is_reconciled_once(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    reaper = Reaper(engine)  # type: ignore[arg-type]
    assert reaper.scan() == []  # no conmon dir yet
    exit_file(tmp_path, "a", "0", 1_000)
    exit_file(tmp_path, "gone", "1", 1_000)
    exit_file(tmp_path, "writing", "", 1_000)  # not complete: looked at again next tick
    (tmp_path / "conmon" / "running").mkdir()  # no exit file: still running
    assert sorted(reaper.scan()) == ["a", "gone"]
    assert reaper.scan() == []
    exit_file(tmp_path, "a", "137", 2_000)  # a later run of "a" exited too
    exit_file(tmp_path, "writing", "3", 1_000)
    assert sorted(reaper.scan()) == ["a", "writing"]
    assert sorted(engine.inspected) == ["a", "a", "gone", "writing"]
