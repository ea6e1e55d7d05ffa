"""Fixtures and helpers for the container and volume integration tests (real runc, conmon).

Imported by the conftest.py of tests/integration/containers and tests/integration/volumes.

``containers``: a ContainerService over the test engine's real image store (with
busybox:latest), real volume store and the engine's network part. Its teardown
force-removes every container the test made and then asserts that nothing is
left: no runc containers, no conmon processes, no overlay mounts under the test's
temp dir. It runs even when the test fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.api import ContainerConfig, ImageInfo
from runtime.config import EngineConfig
from runtime.containers.service import ContainerService
from runtime.engine import LocalEngine


class _EngineNetworks:
    """The engine's network part, built on first use (most tests run with network none,
    and so need neither pyroute2 nor nftables)."""

    def __init__(self, engine: LocalEngine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine.networks, name)


def conmon_pids(run_dir: Path) -> list[int]:
    """conmon processes whose command line names ``run_dir`` (i.e. this test's)."""
    found = []
    marker = os.fsencode(str(run_dir))
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"conmon" in cmdline.split(b"\0", 1)[0] and marker in cmdline:
            found.append(int(entry))
    return found


def mounts_under(path: Path) -> list[str]:
    prefix = str(path)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def runc_containers(config: EngineConfig) -> list[str]:
    if not config.runc_root.exists():
        return []
    proc = subprocess.run(["runc", "--root", str(config.runc_root), "list", "-q"],
                          capture_output=True, text=True, check=False)
    return proc.stdout.split()


def assert_nothing_left(config: EngineConfig, tmp: Path) -> None:
    import time

    deadline = time.monotonic() + 5  # a conmon exits moments after writing its exit file
    while conmon_pids(config.run_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    leftovers = {
        "runc containers": runc_containers(config),
        "conmon processes": conmon_pids(config.run_dir),
        "mounts": mounts_under(tmp),
    }
    assert not any(leftovers.values()), f"test left things behind: {leftovers}"


@pytest.fixture
def containers(engine_config: EngineConfig, short_tmp: Path,
               busybox_image: ImageInfo) -> Iterator[ContainerService]:
    """A ContainerService on the test's state root, cleaned and checked at teardown."""
    engine = LocalEngine(engine_config)
    service = ContainerService(engine.config, engine.metadata, engine.event_log,
                               images=engine.images, volumes=engine.volumes,
                               networks=_EngineNetworks(engine))  # type: ignore[arg-type]
    try:
        yield service
    finally:
        try:
            remove_all(service)
        finally:
            engine.close()
            assert_nothing_left(engine_config, short_tmp)


def remove_all(service: ContainerService) -> None:
    errors = []
    for info in service.container_list(all=True):
        try:
            service.container_remove(info.id, force=True, volumes=True)
        except Exception as exc:  # keep going: every container must go
            errors.append(f"{info.name}: {exc}")
    # Kill anything runc still knows (a test that failed half-way through a start).
    for cid in service.runc.list_ids():
        subprocess.run(service.runc.argv("delete", "--force", cid), capture_output=True,
                       check=False)
    assert not errors, errors


def busybox(name: str, *command: str, **kwargs: Any) -> ContainerConfig:
    """A busybox container config on network none (unless given)."""
    kwargs.setdefault("network_mode", "none")
    kwargs.setdefault("image", "busybox:latest")
    return ContainerConfig(name=name,
                           command=tuple(command) if command else None, **kwargs)
