"""Container paths seen from the host (cp), and the per-container lock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from runtime.containers.copy import host_path
from runtime.containers.locks import ContainerLocks
from runtime.errors import NotFound


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "merged"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("container passwd")
    (root / "data").mkdir()
    (root / "evil").symlink_to("/etc/passwd")  # absolute: the container's /etc/passwd
    (root / "rel").symlink_to("etc")
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "f").write_text("in volume")
    hosts = tmp_path / "hosts"
    hosts.write_text("hosts file")
    (tmp_path / "config.json").write_text(json.dumps({
        "root": {"path": str(root)},
        "mounts": [{"destination": "/data", "type": "bind", "source": str(volume)},
                   {"destination": "/etc/hosts", "type": "bind", "source": str(hosts)},
                   {"destination": "/proc", "type": "proc", "source": "proc"}]}))
    return tmp_path


def test_paths_map_through_mounts_and_links_stay_inside(bundle: Path) -> None:
    assert host_path(bundle, "/etc/passwd").read_text() == "container passwd"
    assert host_path(bundle, "/evil").read_text() == "container passwd"  # not the host's
    assert host_path(bundle, "/rel/passwd").read_text() == "container passwd"
    assert host_path(bundle, "/data/f").read_text() == "in volume"
    assert host_path(bundle, "/etc/hosts").read_text() == "hosts file"
    assert host_path(bundle, "/../../etc/passwd").read_text() == "container passwd"
    with pytest.raises(NotFound):
        host_path(bundle, "/nope")


def test_lock_is_reentrant_in_a_thread_and_exclusive_across(tmp_path: Path) -> None:
    locks = ContainerLocks(tmp_path)
    order: list[str] = []
    def other() -> None:
        with locks.hold("c"):
            order.append("other")

    with locks.hold("c"), locks.hold("c"):  # re-entrant: no self-deadlock
        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.2)
        order.append("first")
    t.join(timeout=5)
    assert order == ["first", "other"]
