"""What a container sees: its own PID 1, hostname, mounts, network; Docker's default
capabilities and seccomp; read-only rootfs; resource limits that really apply."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from runtime.api import Resources, Ulimit
from runtime.containers.service import ContainerService
from tests.integration.containers.harness import busybox

pytestmark = pytest.mark.root

DOCKER_DEFAULT_CAPS = 0xA80425FB


def _run(containers: ContainerService, name: str, script: str, **kwargs: object) -> tuple[int, str]:
    containers.container_create(busybox(name, "sh", "-c", script, **kwargs))  # type: ignore[arg-type]
    containers.container_start(name)
    code = containers.container_wait(name, timeout=20)
    out = "\n".join(e.data.decode() for e in containers.container_logs(name))
    return code, out


def test_own_pid1_hostname_and_only_lo(containers: ContainerService) -> None:
    code, out = _run(containers, "iso", "echo pid=$$; hostname; ls /sys/class/net; ps -o pid | tail -n +2 | wc -l; "
                     "cat /etc/hostname; grep -c . /proc/self/mountinfo", hostname="box1")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "pid=1"
    assert lines[1] == "box1" and lines[4] == "box1"
    assert lines[2] == "lo"
    assert int(lines[3]) < 8  # only the few processes of this script: no host processes
    host_mounts = len(Path("/proc/self/mountinfo").read_text().splitlines())
    assert int(lines[5]) < host_mounts or host_mounts < 30


def test_default_capabilities_and_seccomp(containers: ContainerService) -> None:
    _code, out = _run(containers, "caps", "grep CapEff /proc/self/status; "
                     "unshare -n true && echo unshare-ok || echo unshare-refused; "
                     "mount -t tmpfs none /mnt && echo mount-ok || echo mount-refused")
    lines = out.splitlines()
    assert int(lines[0].split()[1], 16) == DOCKER_DEFAULT_CAPS
    assert "unshare-refused" in lines and "mount-refused" in lines


def test_sysctls_apply_in_the_containers_namespace(containers: ContainerService) -> None:
    _, out = _run(containers, "sysctl", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
                  sysctls={"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"})
    assert out.splitlines() == ["1", "12345"]


def test_cap_drop_all_and_add(containers: ContainerService) -> None:
    _, out = _run(containers, "nocaps", "grep CapEff /proc/self/status",
                  cap_drop=("ALL",), cap_add=("NET_ADMIN",))
    assert int(out.split()[1], 16) == 1 << 12  # CAP_NET_ADMIN only


def test_read_only_rootfs_and_masked_proc(containers: ContainerService) -> None:
    _code, out = _run(containers, "ro", "touch /x 2>/dev/null && echo wrote || echo refused; "
                     "cat /proc/kcore 2>/dev/null | head -c 1 | wc -c; "
                     "{ echo 1 > /proc/sys/kernel/panic; } 2>/dev/null && echo sys-rw || echo sys-ro; "
                     "{ echo x >> /etc/hosts; } 2>/dev/null && echo etc-rw || echo etc-ro",
                     read_only=True)
    assert out.splitlines() == ["refused", "0", "sys-ro", "etc-ro"]  # /etc files too, as Docker


def test_writes_land_in_upper_dir_and_survive_restart(containers: ContainerService) -> None:
    containers.container_create(busybox("rw", "sh", "-c",
                                        "cat /data.txt 2>/dev/null; echo run >> /data.txt"))
    for _ in range(2):
        containers.container_start("rw")
        containers.container_wait("rw", timeout=10)
    out = [e.data for e in containers.container_logs("rw")]
    assert out == [b"run"]


def test_memory_limit_pids_and_ulimits_apply(containers: ContainerService) -> None:
    limit = 32 * 1024 * 1024
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
              "cat /sys/fs/cgroup/memory.max; ulimit -n; "
              # 64 MiB into a tmpfs charged to the container: the OOM killer ends it.
              "head -c 67108864 /dev/zero > /dev/shm/fill; echo survived")
    code, out = _run(containers, "mem", script, shm_size=128 * 1024 * 1024,
                     resources=Resources(memory=limit, pids_limit=50),
                     ulimits=(Ulimit(name="nofile", soft=512, hard=1024),))
    lines = out.splitlines()
    assert lines[0] == str(limit)
    assert lines[1] == "512"
    assert "survived" not in lines and code == 137
    with pytest.raises(FileNotFoundError):
        os.stat("/sys/fs/cgroup/memory/stack/" + containers.container_inspect("mem").id)


def test_host_network_sees_host_interfaces(containers: ContainerService) -> None:
    _, out = _run(containers, "hostnet", "hostname; ls /sys/class/net | wc -l",
                  network_mode="host")
    lines = out.splitlines()
    assert lines[0] == socket.gethostname()
    assert int(lines[1]) == len(os.listdir("/sys/class/net"))


def test_container_network_mode_shares_netns(containers: ContainerService) -> None:
    containers.container_create(busybox("netowner", "sleep", "30"))
    containers.container_start("netowner")
    owner = containers.container_inspect("netowner")
    assert owner.pid is not None
    _code, out = _run(containers, "joiner", "readlink /proc/self/ns/net",
                     network_mode="container:netowner")
    assert out.strip() == os.readlink(f"/proc/{owner.pid}/ns/net")


def test_user_and_working_dir_from_config(containers: ContainerService) -> None:
    _, out = _run(containers, "who", "id -u; id -g; pwd; echo $HOME", user="nobody",
                  working_dir="/tmp")
    assert out.splitlines()[:3] == ["65534", "65534", "/tmp"]


def test_missing_working_dir_is_created(containers: ContainerService) -> None:
    code, out = _run(containers, "wd", "pwd", working_dir="/made/for/you")
    assert (code, out) == (0, "/made/for/you")
