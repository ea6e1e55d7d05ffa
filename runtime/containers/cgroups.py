"""A container's cgroups: stats (memory, CPU, pids), its processes; and a cgroup of
their own for the monitors.

Works on cgroup v1, v2 and the hybrid layout (v1 controllers plus a v2 tree at
/sys/fs/cgroup/unified): the container's cgroup paths come from
/proc/<pid>/cgroup of its PID 1, and each controller's files are read where that
controller is mounted.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
from pathlib import Path

from runtime.api import ContainerStats, ProcessInfo

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The kernel's "no limit" for v1 memory (a page-rounded LONG_MAX) starts with this.
_V1_UNLIMITED = 0x7FFFFFFFFFFFF000


def _groups(pid: int) -> dict[str, str]:
    """Controller -> path in its hierarchy for process ``pid``; "" is the v2 tree."""
    groups: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                groups[c] = path.lstrip("/")
    return groups


@functools.cache
def _v2_root() -> Path:
    unified = CGROUP_ROOT / "unified"  # the hybrid layout
    return unified if unified.is_dir() else CGROUP_ROOT


def _paths(pid: int) -> tuple[dict[str, Path], Path | None]:
    """(v1 controller -> directory, v2 directory or None) for process ``pid``."""
    groups = _groups(pid)
    v2 = groups.pop("", None)
    return ({c: CGROUP_ROOT / c / rel for c, rel in groups.items()},
            None if v2 is None else _v2_root() / v2)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def stats(pid: int) -> ContainerStats:
    v1, v2 = _paths(pid)
    memory = limit = pids = None
    cpu = 0.0
    if "memory" in v1:
        memory = _read_int(v1["memory"] / "memory.usage_in_bytes")
        limit = _read_int(v1["memory"] / "memory.limit_in_bytes")
        if limit is not None and limit >= _V1_UNLIMITED:
            limit = None
    elif v2 is not None:
        memory = _read_int(v2 / "memory.current")
        limit = _read_int(v2 / "memory.max")
    if "cpuacct" in v1:
        cpu = (_read_int(v1["cpuacct"] / "cpuacct.usage") or 0) / 1e9
    elif v2 is not None:
        try:
            for line in (v2 / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    cpu = int(line.split()[1]) / 1e6
        except OSError:
            pass
    if "pids" in v1:
        pids = _read_int(v1["pids"] / "pids.current")
    elif v2 is not None:
        pids = _read_int(v2 / "pids.current")
    return ContainerStats(cpu_seconds=cpu, memory_usage=memory or 0, memory_limit=limit,
                          pids=pids or len(processes(pid)))


def frozen(pid: int, cid: str) -> bool | None:
    """Whether the cgroup of container ``cid``'s PID 1 is frozen (paused): read from the
    freezer where runc keeps it (v1's freezer controller, else v2's ``cgroup.freeze``).
    None when it cannot tell: ``pid`` is not in the container's cgroup (it exited and
    the number was reused), a freeze is under way, or the files cannot be read."""
    # Called for every running container on every listing: plain strings, no Paths.
    try:
        groups = _groups(pid)
    except (OSError, ValueError):
        return None
    v1 = "freezer" in groups
    rel = groups.get("freezer", groups.get(""))
    if rel is None or cid not in rel.rsplit("/", 1)[-1]:
        return None
    group = f"{CGROUP_ROOT}/freezer/{rel}" if v1 else f"{_v2_root()}/{rel}"
    try:
        if v1:
            with open(f"{group}/freezer.state") as f:
                return {"THAWED": False, "FROZEN": True}.get(f.read().strip())
        with open(f"{group}/cgroup.freeze") as f:
            if f.read().strip() == "0":
                return False
        with open(f"{group}/cgroup.events") as f:
            return "frozen 1" in f.read().splitlines() or None
    except OSError:
        return None


def member_pids(pid: int) -> list[int]:
    v1, v2 = _paths(pid)
    for d in [v1.get("pids"), v1.get("memory"), v2, *v1.values()]:
        if d is None:
            continue
        try:
            text = (d / "cgroup.procs").read_text()
        except OSError:
            continue
        found = [int(x) for x in text.split()]
        if pid in found:
            return sorted(found)
    return [pid]


def processes(pid: int) -> list[ProcessInfo]:
    out = []
    for p in member_pids(pid):
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").strip()
            uid = os.stat(f"/proc/{p}").st_uid
        except OSError:
            continue  # exited meanwhile
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        out.append(ProcessInfo(pid=p, user=user, command=cmdline.decode(errors="replace")))
    return out


MONITOR_GROUP = "stack-conmon"


def _tracking_hierarchies() -> list[Path]:
    """Mount points of the hierarchies that service managers track processes by: the v2
    tree and v1's named ``systemd`` one (controllers stay where they are)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[-1]
            if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options):
                found.append(Path(fields[4]))
    return found


def move_to_monitor_group(pid: int) -> None:
    """Move a monitor (conmon) out of its starter's cgroup into ``/stack-conmon``, so that
    stopping the starter's service (systemd kills its whole cgroup) spares the monitors
    of the containers it started. Best effort: a failure is logged, not raised."""
    for hierarchy in _tracking_hierarchies():
        group = hierarchy / MONITOR_GROUP
        try:
            group.mkdir(exist_ok=True)
            (group / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            log.warning("conmon %d: cannot move to %s: %s", pid, group, exc)
