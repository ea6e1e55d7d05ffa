"""Named and anonymous volumes, bind mounts and tmpfs, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.api import Mount, VolumeConfig
from runtime.containers.service import ContainerService
from runtime.engine import LocalEngine
from runtime.errors import Conflict, InvalidArgument, NotFound
from tests.integration.containers.harness import busybox

pytestmark = pytest.mark.root


@pytest.fixture
def vengine(containers: ContainerService) -> LocalEngine:
    """A LocalEngine over the same state as ``containers`` (whose teardown checks leaks)."""
    eng = LocalEngine(containers.config)
    eng.__dict__["containers"] = containers  # share the service the fixture cleans up
    eng.__dict__["metadata"] = containers.store.md
    return eng


def _run(engine: LocalEngine, name: str, script: str, **kwargs: object) -> tuple[int, str]:
    engine.container_create(busybox(name, "sh", "-c", script, **kwargs))  # type: ignore[arg-type]
    engine.container_start(name)
    code = engine.container_wait(name, timeout=20)
    return code, "\n".join(e.data.decode() for e in engine.container_logs(name))


def test_named_volume_survives_container_removal(vengine: LocalEngine) -> None:
    vol = (Mount(type="volume", source="data", target="/data"),)
    _run(vengine, "w", "echo kept > /data/f", mounts=vol)
    info = vengine.volume_inspect("data")
    assert Path(info.mountpoint, "f").read_text() == "kept\n"
    vengine.container_remove("w")
    code, out = _run(vengine, "r", "cat /data/f", mounts=vol)
    assert (code, out) == (0, "kept")
    vengine.container_remove("r")
    vengine.volume_remove("data")
    with pytest.raises(NotFound):
        vengine.volume_inspect("data")


def test_volume_in_use_cannot_be_removed(vengine: LocalEngine) -> None:
    vengine.volume_create(VolumeConfig(name="busy", labels={"io.stack.project": "p"}))
    assert [v.name for v in vengine.volume_list(labels={"io.stack.project": "p"})] == ["busy"]
    vengine.container_create(busybox("user", "true",
                                    mounts=(Mount(type="volume", source="busy", target="/b"),)))
    with pytest.raises(Conflict, match='volume "busy" is in use by container'):
        vengine.volume_remove("busy")
    vengine.container_remove("user")
    vengine.volume_remove("busy")


def test_copy_up_of_image_content_and_nocopy(vengine: LocalEngine) -> None:
    _code, out = _run(vengine, "cu", "ls /etc | grep -c passwd",
                     mounts=(Mount(type="volume", source="etc-copy", target="/etc"),))
    assert out == "1"
    assert Path(vengine.volume_inspect("etc-copy").mountpoint, "passwd").exists()
    _run(vengine, "nc", "ls /bin | wc -l",
         mounts=(Mount(type="volume", source="bin-empty", target="/opt", nocopy=True),))
    assert list(Path(vengine.volume_inspect("bin-empty").mountpoint).iterdir()) == []


def test_anonymous_volume_is_kept_across_restarts_and_removed_with_v(vengine: LocalEngine) -> None:
    vengine.container_create(busybox("anon", "sh", "-c", "cat /a/n 2>/dev/null; echo x >> /a/n",
                                    mounts=(Mount(type="volume", target="/a"),)))
    for _ in range(2):
        vengine.container_start("anon")
        vengine.container_wait("anon", timeout=10)
    assert [e.data for e in vengine.container_logs("anon")] == [b"x"]
    anon = [v.name for v in vengine.volume_list() if v.labels.get("io.stack.anonymous")]
    assert len(anon) == 1
    assert [m.source for m in vengine.container_inspect("anon").config.mounts] == anon
    with pytest.raises(Conflict):  # in use, though the user never named it
        vengine.volume_remove(anon[0])
    vengine.container_remove("anon", volumes=True)
    assert vengine.volume_list() == []


def test_bind_mount_created_read_only_and_tmpfs(vengine: LocalEngine, short_tmp: Path) -> None:
    host = short_tmp / "made" / "here"
    _code, out = _run(vengine, "bm", "echo hi > /b/f; echo rc=$?; touch /ro/x 2>/dev/null || "
                     "echo ro-refused; grep ' /t ' /proc/mounts | grep -o 'size=[0-9a-z]*'; "
                     "stat -c %a /t; grep -c ' /t .*noexec' /proc/mounts; "
                     "grep -c ' /x .*noexec' /proc/mounts",
                     mounts=(Mount(type="bind", source=str(host), target="/b"),
                             Mount(type="bind", source=str(short_tmp), target="/ro",
                                   read_only=True),
                             Mount(type="tmpfs", target="/t", tmpfs_size=1 << 20,
                                   tmpfs_mode=0o1770),
                             Mount(type="tmpfs", target="/x", tmpfs_exec=True)))
    assert (host / "f").read_text() == "hi\n"
    # noexec by default as Docker's tmpfs mounts, unless asked for exec
    assert out.splitlines() == ["rc=0", "ro-refused", "size=1024k", "1770", "1", "0"]
    with pytest.raises(NotFound):
        vengine.container_create(busybox("nb", "true", mounts=(
            Mount(type="bind", source=str(short_tmp / "absent"), target="/x",
                  create_host_path=False),)))
        vengine.container_start("nb")


def test_volume_names_are_checked(vengine: LocalEngine) -> None:
    with pytest.raises(InvalidArgument, match=r'volume "\.\./x": invalid name'):
        vengine.volume_create(VolumeConfig(name="../x"))
    first = vengine.volume_create(VolumeConfig(name="same", labels={"a": "1"}))
    assert vengine.volume_create(VolumeConfig(name="same")) == first
