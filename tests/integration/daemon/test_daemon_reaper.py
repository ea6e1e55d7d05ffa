"""Containers that exit on their own are reconciled by stackd at once, nobody looking:
``--rm`` ones are removed, the others release their rootfs mount and network sandbox."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, ContainerState, EndpointConfig, ImageInfo, NetworkConfig
from runtime.containers.rootfs import Rootfs
from tests.integration.daemon.stackd_harness import StackdProcess

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


def stack(daemon: StackdProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STACK_ENGINE"}
    env["STACK_HOST"] = f"unix://{daemon.config.socket_path}"
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def within(seconds: float, check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def test_run_detached_rm_is_removed_right_after_it_exits(busybox_image: ImageInfo,
                                                         stackd: StackdProcess) -> None:
    run = stack(stackd, "container", "run", "-d", "--rm", "busybox", "true")
    assert run.returncode == 0, run.stderr
    t0 = time.monotonic()
    db = stackd.config.metadata_db
    # Asked of the database, not the API: a look through the API would reconcile by itself.
    def gone() -> bool:
        with closing(sqlite3.connect(db)) as conn:
            return conn.execute("SELECT COUNT(*) FROM containers").fetchone()[0] == 0

    assert within(2.0, gone), "the --rm container is still recorded 2 s after it exited"
    assert time.monotonic() - t0 < 2.0
    assert stackd.client.container_list(all=True) == []


@pytest.mark.parametrize("supervise", [True, False], ids=["supervised", "no-supervise"])
def test_an_exit_releases_mount_and_sandbox_with_nobody_looking(
        busybox_image: ImageInfo, stackd: StackdProcess, supervise: bool) -> None:
    if not supervise:
        stackd.stop()
        stackd.start("--no-supervise")
    client = stackd.client
    client.network_create(NetworkConfig(name="reap-net"))
    info = client.container_create(ContainerConfig(
        name="brief", image="busybox:latest", command=("sh", "-c", "sleep 0.5"),
        networks=(EndpointConfig(network="reap-net"),)))
    client.container_start("brief")
    merged = Rootfs(stackd.config.containers_dir / info.id).merged
    netns = stackd.config.netns_dir / info.id
    assert mounted(merged) and netns.exists()

    assert within(3.0, lambda: not mounted(merged) and not netns.exists()), \
        "the exited container still holds its rootfs mount or network sandbox"
    after = client.container_inspect("brief")
    assert after.state == ContainerState.EXITED and after.exit_code == 0
    client.container_remove("brief")
    client.network_remove("reap-net")
