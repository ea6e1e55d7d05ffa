"""The DNS process: started, found by pid, stopped; it never outlives its database."""

from __future__ import annotations

import time
from pathlib import Path

from runtime.metadata import Metadata
from runtime.network import store
from runtime.network.dnsproc import DnsProcess


def _wait(cond: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_start_stop_and_exit_when_the_database_goes(tmp_path: Path) -> None:
    md = Metadata(tmp_path / "metadata.db")
    store.ensure_schema(md)
    md.close()
    proc = DnsProcess(db=tmp_path / "metadata.db", run_dir=tmp_path / "run",
                      upstreams=["127.0.0.1:9"])
    pid = proc.ensure_running()
    try:
        assert proc.ensure_running() == pid  # one per engine
        proc.wait_listening([])
        proc.stop()
        assert proc.pid() is None and not proc.pid_file.exists()
        pid = proc.ensure_running()
        assert _wait(lambda: proc.state_file.exists())
        for path in tmp_path.glob("metadata.db*"):
            path.unlink()
        assert _wait(lambda: proc.pid() is None)
    finally:
        proc.stop()
