"""Kernel settings under /proc/sys that networking needs, changed only where needed.

``ip_forward`` (global: replies to masqueraded traffic arrive on the host's
uplink, whose forwarding flag is what the kernel checks) is turned on when the
first non-internal network is made, and the value we found is recorded in the
run dir so it is put back when the last network goes. Per-bridge settings
(``route_localnet`` for published ports reached from 127.0.0.1) vanish with
the bridge.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from runtime.errors import Failed

log = logging.getLogger(__name__)

PROC_SYS = Path("/proc/sys")
IP_FORWARD = "net/ipv4/ip_forward"
IP6_FORWARD = "net/ipv6/conf/all/forwarding"


def read(key: str) -> str | None:
    try:
        return (PROC_SYS / key).read_text().strip()
    except OSError:
        return None


def write(key: str, value: str) -> None:
    try:
        (PROC_SYS / key).write_text(value)
    except OSError as exc:
        raise Failed(f'sysctl "{key.replace("/", ".")}" could not be set to {value}: {exc}') from exc


def set_bridge(bridge: str, *, route_localnet: bool) -> None:
    if route_localnet:
        write(f"net/ipv4/conf/{bridge}/route_localnet", "1")


class ForwardingGuard:
    """Turns global forwarding on for our networks and restores what it found."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file

    def _saved(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def enable(self, key: str) -> None:
        """Idempotent: the first call records the original value."""
        current = read(key)
        if current == "1":
            return
        saved = self._saved()
        if key not in saved and current is not None:
            saved[key] = current
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps(saved))
        log.info("setting %s = 1 for stack networks", key.replace("/", "."))
        write(key, "1")

    def restore(self, *, others_need_it: bool = False) -> None:
        """Put back every value ``enable`` changed (called when no network of this engine
        remains). When another engine's networks still need forwarding (``others_need_it``)
        the value stays and the record is dropped: that engine restores it, if anyone."""
        if others_need_it:
            self.state_file.unlink(missing_ok=True)
            return
        for key, value in self._saved().items():
            if read(key) != value:
                log.info("restoring %s = %s", key.replace("/", "."), value)
                write(key, value)
        self.state_file.unlink(missing_ok=True)
