"""How a container's state reads in listings (`stack ps`, `stack container ls`): Docker's
STATUS column, its durations, its PORTS column."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime import api


def ago(seconds: float) -> str:
    """A duration as Docker words it: ``Less than a second``, ``1 second``, ``About a
    minute``, ``5 minutes``, ``3 hours``, ``2 days``."""
    if seconds < 1:
        return "Less than a second"
    s = int(seconds)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= 2 * size:
            return f"{s // size} {unit}"
    if s >= 60:
        return "About a minute"
    return f"{s} seconds" if s != 1 else "1 second"


def status_text(info: api.ContainerInfo) -> str:
    """Docker's STATUS column: ``Up 5 seconds (healthy)``, ``Exited (0) 3 seconds ago``."""
    from runtime import api as rapi

    now = time.time()
    if info.state in (rapi.ContainerState.RUNNING, rapi.ContainerState.PAUSED):
        text = f"Up {ago(now - (info.started_at or now))}"
        if info.state is rapi.ContainerState.PAUSED:
            text += " (Paused)"
        elif info.health is not rapi.HealthStatus.NONE:
            text += f" ({'health: starting' if info.health is rapi.HealthStatus.STARTING else info.health.value})"
        return text
    if info.state is rapi.ContainerState.RESTARTING:  # in the back-off after an exit
        return f"Restarting ({info.exit_code}) {ago(now - (info.finished_at or now))} ago"
    if info.state in (rapi.ContainerState.EXITED, rapi.ContainerState.DEAD):
        return f"Exited ({info.exit_code}) {ago(now - (info.finished_at or now))} ago"
    return info.state.value.capitalize()


def ports_text(info: api.ContainerInfo) -> str:
    return ", ".join(f"{p.host_ip or '0.0.0.0'}:{p.host_port}->{p.container_port}/{p.protocol}"
                     for p in info.ports)
