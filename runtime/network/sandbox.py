"""Container network namespaces and the veth pairs into them (pyroute2 + setns).

A sandbox is a network namespace bind-mounted at ``<run dir>/netns/<id>`` (like
``ip netns`` does under /run/netns): it lives as long as the mount, with or
without processes in it, and runc joins it by path. Namespaces are made in a
short-lived thread (``unshare(CLONE_NEWNET)`` changes only the calling thread),
and netlink sockets for a namespace are opened by a thread that enters it, so
no process is forked: a sandbox costs a few milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import Failed

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
MNT_DETACH = 2
_IFA_F_NODAD = 0x02

_libc = ctypes.CDLL(None, use_errno=True)
_dir_lock = threading.Lock()

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _is_mountpoint(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


def _prepare_dir(netns_dir: Path) -> None:
    """Make ``netns_dir`` a shared mount point, as ``ip netns`` does for /run/netns, so
    unmounting a namespace file also unmounts the copies that mount namespaces made
    after it (runc's, for one) hold; otherwise the namespace would outlive its removal."""
    with _dir_lock:
        netns_dir.mkdir(parents=True, exist_ok=True)
        if _is_mountpoint(netns_dir):
            return
        path = str(netns_dir).encode()
        _check(_libc.mount(path, path, None, MS_BIND | MS_REC, None), f"bind {netns_dir}")
        _check(_libc.mount(b"none", path, None, MS_SHARED | MS_REC, None),
               f"make-shared {netns_dir}")


def release_dir(netns_dir: Path) -> None:
    """Undo ``_prepare_dir`` once no namespace is left in ``netns_dir``. Idempotent."""
    with _dir_lock:
        if not netns_dir.exists() or any(netns_dir.iterdir()):
            return
        if _is_mountpoint(netns_dir):
            _check(_libc.umount2(str(netns_dir).encode(), MNT_DETACH), f"umount {netns_dir}")
        netns_dir.rmdir()


def _run_in_thread(target: object, *args: object) -> object:
    """Run ``target`` in a new thread (namespace changes stay in that thread); re-raise."""
    result: dict[str, object] = {}

    def body() -> None:
        try:
            result["value"] = target(*args)  # type: ignore[operator]
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=body, name="stack-netns")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


def _unshare_and_bind(path: Path) -> None:
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    src = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
    _check(_libc.mount(src, str(path).encode(), None, MS_BIND, None), f"bind {path}")


def is_netns(path: Path) -> bool:
    """Whether a namespace is bound at ``path``."""
    return path.exists() and _is_mountpoint(path)


def create_netns(path: Path) -> None:
    """A new network namespace bound at ``path``, loopback up. Idempotent."""
    _prepare_dir(path.parent)
    if is_netns(path):
        return
    try:
        path.touch(mode=0o444, exist_ok=True)
        _run_in_thread(_unshare_and_bind, path)
        with netns_ipr(path) as ipr:
            ipr.link("set", index=1, state="up")  # lo is always index 1
    except (OSError, NetlinkError) as exc:
        remove_netns(path)
        raise Failed(f'network namespace "{path}" could not be made: {exc}') from exc


def remove_netns(path: Path) -> None:
    """Unmount and delete the namespace file. Idempotent."""
    if _libc.umount2(str(path).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise Failed(f'network namespace "{path}" could not be unmounted: '
                         f"{os.strerror(err)}")
    path.unlink(missing_ok=True)


def _netlink_socket_in(path: Path) -> socket.socket:
    def body() -> socket.socket:
        fd = os.open(path, os.O_RDONLY)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), f"setns {path}")
        finally:
            os.close(fd)
        # The socket stays bound to the namespace it was made in; the thread dies after.
        return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0)

    sock = _run_in_thread(body)
    assert isinstance(sock, socket.socket)
    return sock


@contextmanager
def netns_ipr(path: Path) -> Iterator[IPRoute]:
    """An rtnetlink handle inside the namespace at ``path``."""
    ipr = IPRoute(use_socket=_netlink_socket_in(path))
    try:
        yield ipr
    finally:
        ipr.close()


def add_veth(host: IPRoute, *, host_if: str, peer_if: str, mac: str, netns_path: Path,
             bridge_index: int, mtu: int | None) -> None:
    """A veth pair in one request: ``host_if`` on the bridge and up, ``peer_if`` (with its
    MAC) made straight inside the namespace. A stale ``host_if`` of a crashed run is
    replaced."""
    with contextlib.suppress(NetlinkError):  # ENODEV: nothing stale, the usual case
        host.link("del", ifname=host_if)
    fd = os.open(netns_path, os.O_RDONLY)
    try:
        extra = {"mtu": mtu} if mtu else {}
        host.link("add", ifname=host_if, kind="veth", master=bridge_index, state="up",
                  peer={"ifname": peer_if, "net_ns_fd": fd, "address": mac, **extra},
                  **extra)
    finally:
        os.close(fd)
    # hairpin: a container reaching its own published port through a host address gets
    # the DNATed packet back out of the port it came in by (sysfs: no netlink round trip)
    Path(f"/sys/class/net/{host_if}/brport/hairpin_mode").write_text("1")


def configure_inside(ipr: IPRoute, *, ifname: str, addresses: list[Interface],
                     gateways: list[str]) -> None:
    """Inside the namespace: addresses, link up, default routes via ``gateways``."""
    index = ipr.link_lookup(ifname=ifname)
    if not index:
        raise Failed(f'interface "{ifname}" is missing in the sandbox')
    for iface in addresses:
        extra = {"flags": _IFA_F_NODAD} if iface.version == 6 else {}
        ipr.addr("add", index=index[0], address=str(iface.ip),
                 prefixlen=iface.network.prefixlen, **extra)
    ipr.link("set", index=index[0], state="up")
    for gateway in gateways:
        family = 10 if ":" in gateway else 2
        ipr.route("replace", dst="default", gateway=gateway, family=family, oif=index[0])


def has_default_route(ipr: IPRoute) -> bool:
    return any(r["dst_len"] == 0 for r in ipr.get_routes(family=2, table=254))
