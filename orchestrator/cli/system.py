"""`stack system ...` (info, df, prune, events, service install), `stack info`, `stack version`.

System views come from the daemon (``HttpEngine`` implements them) or, with
``STACK_ENGINE=local``, from ``runtime.daemon.system.LocalSystem`` over the
in-process engine. Output goes through orchestrator.cli.render.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator import __version__
from orchestrator.cli import render
from orchestrator.cli.engine import get_engine
from orchestrator.cli.image import human_size
from orchestrator.errors import EngineCallError, UsageError

if TYPE_CHECKING:
    from runtime.daemon.system import SystemApi

app = typer.Typer(help="Engine-wide information and housekeeping.", no_args_is_help=True,
                  rich_markup_mode=None)
service_app = typer.Typer(help="Run stackd as a systemd service.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(service_app, name="service")

FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]


def _system(ctx: typer.Context) -> SystemApi:
    from runtime.daemon.client import HttpEngine
    from runtime.daemon.system import LocalSystem

    engine = get_engine(ctx)
    if isinstance(engine, HttpEngine):
        return engine

    return LocalSystem(engine, engine.config)


def _address(ctx: typer.Context) -> str:
    engine = get_engine(ctx)
    address = getattr(engine, "address", None)
    return str(address) if address is not None else "in-process (STACK_ENGINE=local)"


# --- info / version -----------------------------------------------------------------------


def info(ctx: typer.Context, format: FormatOption = "table") -> None:
    """Show client and server versions, where things are, and what exists."""
    data = _system(ctx).system_info()
    if format == "json":
        render.json_out({"client": {"version": __version__, "engine": _address(ctx)},
                         "server": dataclasses.asdict(data)})
        return
    v = data.version
    lines = [
        "Client:",
        f" Version:          {__version__}",
        f" Engine:           {_address(ctx)}",
        "",
        "Server:",
        f" Version:          {v.version} (API {v.api_version}, Python {v.python})",
        f" Containers:       {data.containers}",
        f"  Running:         {data.containers_running}",
        f"  Paused:          {data.containers_paused}",
        f"  Stopped:         {data.containers_stopped}",
        f" Images:           {data.images}",
        f" Networks:         {data.networks}",
        f" Volumes:          {data.volumes}",
        f" Storage used:     {human_size(data.storage_used)}",
        f" State root:       {data.state_root}",
        f" Run dir:          {data.run_dir}",
        f" Address pool:     {data.address_pool}",
        f" Cgroup mode:      {data.cgroup_mode}",
        f" runc:             {v.runc or 'not found'}",
        f" conmon:           {v.conmon or 'not found'}",
        f" Kernel:           {v.kernel} ({v.os}/{v.arch})",
    ]
    if data.daemon_pid:
        lines.append(f" Daemon:           pid {data.daemon_pid}, up {_duration(data.uptime)}")
    for line in lines:
        render.line(line)


def version(ctx: typer.Context, format: FormatOption = "table") -> None:
    """Show the client's and the server's versions."""
    server = _system(ctx).version()
    if format == "json":
        render.json_out({"client": {"version": __version__,
                                    "python": sys.version.split()[0]},
                         "server": dataclasses.asdict(server)})
        return
    for line in [
        "Client:",
        f" Version:      {__version__}",
        f" Python:       {sys.version.split()[0]}",
        "",
        f"Server: ({_address(ctx)})",
        f" Version:      {server.version}",
        f" API version:  {server.api_version}",
        f" OS/Arch:      {server.os}/{server.arch}",
        f" runc:         {server.runc or 'not found'}",
        f" conmon:       {server.conmon or 'not found'}",
    ]:
        render.line(line)


def _duration(seconds: float) -> str:
    """``3d 4h``, ``2h 5m``, ``7m 3s``, ``9s``: the two largest units."""
    left = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


app.command("info", help="Show engine-wide information (same as `stack info`).")(info)


# --- df / prune -----------------------------------------------------------------------------


@app.command("df", help="Show disk usage of images, containers and volumes.")
def df(ctx: typer.Context, format: FormatOption = "table") -> None:
    usage = _system(ctx).system_df()
    if format == "json":
        render.json_out([dataclasses.asdict(e) for e in usage.entries])
        return
    rows = []
    for e in usage.entries:
        share = f" ({100 * e.reclaimable // e.size}%)" if e.size else ""
        rows.append([e.kind.capitalize(), e.total, e.active, human_size(e.size),
                     human_size(e.reclaimable) + share])
    render.table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows)


@app.command("prune", help="Remove stopped containers, unused networks and dangling images.")
def prune(
    ctx: typer.Context,
    all: Annotated[bool, typer.Option("-a", "--all",
                                      help="Remove all unused images, not just dangling ones.")
                   ] = False,
    volumes: Annotated[bool, typer.Option("--volumes", help="Remove unused volumes too.")
                       ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not ask.")] = False,
) -> None:
    if not force:
        what = ["all stopped containers", "all networks not used by a container",
                "all images without a container" if all else "all dangling images"]
        if volumes:
            what.append("all volumes not used by a container")
        render.line("This will remove:\n  - " + "\n  - ".join(what))
        if not typer.confirm("Are you sure you want to continue?", default=False):
            raise typer.Exit(1)
    report = _system(ctx).system_prune(all=all, volumes=volumes)
    for title, items in (("Deleted containers", report.containers),
                         ("Deleted networks", report.networks),
                         ("Deleted images", report.images),
                         ("Deleted volumes", report.volumes)):
        if items:
            render.line(f"{title}:")
            for item in items:
                render.line(f"  {item}")
    render.line(f"Total reclaimed space: {human_size(report.space_reclaimed)}")


# --- events -----------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")


def parse_time(text: str, *, now: float | None = None) -> float:
    """UNIX seconds, an ISO 8601 time, or a duration into the past (``10m``, ``2h``)."""
    now = time.time() if now is None else now
    match = _RELATIVE.match(text.strip())
    if match:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - float(match.group(1)) * scale
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise UsageError(f'time "{text}" is not understood: use UNIX seconds, an ISO 8601 '
                         "time or a duration like 10m") from exc


@app.command("events", help="Show engine events as they happen (or a past range).")
def events(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Start here: UNIX seconds, "
                                              "ISO time, or a duration ago (10m).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop here (then exit); same "
                                              "forms as --since.")] = None,
    filter: Annotated[list[str] | None, typer.Option(
        "--filter", help="KEY=VALUE: type, event, container, image, network, volume, "
        "label (label=k=v). Repeatable.")] = None,
    format: FormatOption = "table",
) -> None:
    filters: dict[str, str] = {}
    for item in filter or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f'filter "{item}" is not KEY=VALUE')
        filters[key] = value
    start = parse_time(since) if since else None
    end = parse_time(until) if until else None
    engine = get_engine(ctx)
    try:
        for event in engine.events(since=start, until=end, filters=filters or None):
            if format == "json":
                render.line(json.dumps(dataclasses.asdict(event)))
                continue
            stamp = datetime.fromtimestamp(event.time).isoformat(timespec="microseconds")
            attributes = ", ".join(f"{k}={v}" for k, v in sorted(event.attributes.items()))
            render.line(f"{stamp} {event.type} {event.action} {event.id}"
                        + (f" ({attributes})" if attributes else ""))
    except KeyboardInterrupt:
        return


# --- service ------------------------------------------------------------------------------


def systemd_running() -> bool:
    """systemd is PID 1 here (its runtime dir exists) and systemctl is installed."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


@service_app.command("install", help="Install and start stackd as a systemd service.")
def service_install(
    unit_dir: Annotated[Path, typer.Option("--unit-dir", help="Where to write the unit.")
                        ] = Path("/etc/systemd/system"),
    print_only: Annotated[bool, typer.Option("--print", help="Only print the unit file.")
                          ] = False,
) -> None:
    from runtime.daemon.unit import UNIT_NAME, unit_text

    exec_start = shutil.which("stackd") or f"{sys.executable} -m runtime.daemon.main"
    text = unit_text(exec_start=exec_start)
    if print_only:
        render.line(text.rstrip("\n"))
        return
    if not systemd_running():
        raise EngineCallError(
            "systemd is not running on this host (no /run/systemd/system): cannot install "
            "a service", hint="run `stackd` yourself (it stays in the foreground), or let "
            "`stack` start it on demand; `stack system service install --print` shows the unit")
    unit_dir.mkdir(parents=True, exist_ok=True)
    (unit_dir / UNIT_NAME).write_text(text)
    for argv in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", UNIT_NAME]):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EngineCallError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    render.line(f"installed {unit_dir / UNIT_NAME} and started {UNIT_NAME}")
