"""`stack ps`, `ls`, `top`, `port`, `events`: what a project (or the host) is running."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli import project_context as pc
from orchestrator.cli import render
from orchestrator.cli.status import ago, ports_text, status_text
from orchestrator.errors import EngineCallError, UsageError

if TYPE_CHECKING:
    from runtime import api


class FormatOption(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[FormatOption, typer.Option("--format", help="table or json.")]
ServicesArg = Annotated[list[str] | None, typer.Argument(metavar="[SERVICE]...",
                                                         show_default=False)]


def _command(info: api.ContainerInfo) -> str:
    parts = [*(info.config.entrypoint or ()), *(info.config.command or ())]
    return " ".join(" ".join(p.split()) for p in parts)


def _infos(ctx: typer.Context, project: pc.Project, *, all: bool) -> list[api.ContainerInfo]:
    from runtime import api as rapi
    from runtime.errors import EngineError

    try:
        infos = pc.engine(ctx).container_list(all=all, labels={rapi.LABEL_PROJECT: project.name})
    except EngineError as exc:
        raise EngineCallError(f'project "{project.name}": {exc.message}') from exc
    return sorted(infos, key=lambda i: (i.labels.get(rapi.LABEL_SERVICE, ""),
                                        int(i.labels.get(rapi.LABEL_NUMBER, "0") or 0), i.name))


def ps(
    ctx: typer.Context,
    services: ServicesArg = None,
    all: Annotated[bool, typer.Option("-a", "--all", help="Include stopped containers.")
                   ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only ids.")] = False,
    list_services: Annotated[bool, typer.Option("--services", help="Only service names.")
                             ] = False,
    status: Annotated[list[str] | None, typer.Option("--status", metavar="STATUS",
                                                     show_default=False)] = None,
    format: FormatOpt = FormatOption.table,
) -> None:
    """List the stack's containers: state, health, published ports."""
    from runtime import api as rapi

    project = pc.load(ctx, need_file=False)
    names = list(services or ())
    pc.select(project, names)
    infos = [i for i in _infos(ctx, project, all=all or bool(status))
             if (not names or i.labels.get(rapi.LABEL_SERVICE) in names)
             and (not status or i.state.value in status)
             and i.labels.get(rapi.LABEL_ONEOFF) != "True"]
    if list_services:
        for name in dict.fromkeys(i.labels.get(rapi.LABEL_SERVICE, "") for i in infos):
            render.line(name)
        return
    if quiet:
        for i in infos:
            render.line(i.id)
        return
    if format is FormatOption.json:
        render.json_out([_ps_json(project.name, i) for i in infos])
        return
    render.table(("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"),
                 [(i.name, i.image, _quote(_command(i)), i.labels.get(rapi.LABEL_SERVICE, ""),
                   f"{ago(time.time() - i.created_at)} ago", status_text(i), ports_text(i))
                  for i in infos])


def _quote(text: str, width: int = 22) -> str:
    return '"' + (text if len(text) <= width else text[: width - 1] + "…") + '"'


def _ps_json(project: str, i: api.ContainerInfo) -> dict[str, Any]:
    """Docker Compose's fields (strings where it has strings: Labels, Networks, Mounts,
    Ports), plus our own Number, Created and StartedAt as numbers."""
    from runtime import api as rapi

    volumes = sum(1 for m in i.config.mounts if m.type == "volume")
    mounts = [m.source for m in i.config.mounts if m.type in ("volume", "bind") and m.source]
    return {
        "ID": i.id, "Name": i.name, "Names": i.name, "Image": i.image, "Command": _command(i),
        "Project": project, "Service": i.labels.get(rapi.LABEL_SERVICE, ""),
        "Number": int(i.labels.get(rapi.LABEL_NUMBER, "0") or 0),
        "Created": i.created_at, "StartedAt": i.started_at, "State": i.state.value,
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(i.created_at)),
        "RunningFor": f"{ago(time.time() - i.created_at)} ago",
        "Health": "" if i.health is rapi.HealthStatus.NONE else i.health.value,
        "Status": status_text(i), "ExitCode": i.exit_code or 0,
        "Labels": ",".join(f"{k}={v}" for k, v in i.labels.items()),
        "Networks": ",".join(e.network for e in i.networks),
        "LocalVolumes": str(volumes), "Mounts": ",".join(mounts),
        "Ports": ports_text(i), "Size": "0B",
        "Publishers": [{"URL": p.host_ip or "0.0.0.0", "TargetPort": p.container_port,
                        "PublishedPort": p.host_port, "Protocol": p.protocol}
                       for p in i.ports],
    }


def ls(
    ctx: typer.Context,
    all: Annotated[bool, typer.Option("-a", "--all", help="Include stopped projects.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only names.")] = False,
    format: FormatOpt = FormatOption.table,
) -> None:
    """List the projects on this host."""
    from orchestrator.observe import list_projects
    from runtime import api as rapi

    rows = []
    engine = pc.engine(ctx)
    for name, containers in sorted(list_projects(engine).items()):
        running = sum(1 for c in containers if c.state is rapi.ContainerState.RUNNING)
        if not running and not all:
            continue
        states: dict[str, int] = {}
        for c in containers:
            states[c.state.value] = states.get(c.state.value, 0) + 1
        status = ", ".join(f"{k}({v})" for k, v in sorted(states.items()))
        files = ""
        for c in containers:
            try:
                files = engine.container_inspect(c.id).labels.get(rapi.LABEL_PROJECT_FILES, "")
            except Exception:
                continue
            break
        rows.append({"Name": name, "Status": status, "ConfigFiles": files})
    if quiet:
        for r in rows:
            render.line(r["Name"])
    elif format is FormatOption.json:
        render.json_out(rows)
    else:
        render.table(("NAME", "STATUS", "CONFIG FILES"),
                     [(r["Name"], r["Status"], r["ConfigFiles"]) for r in rows])


def top(ctx: typer.Context, services: ServicesArg = None,
        format: FormatOpt = FormatOption.table) -> None:
    """Show the processes running in the stack's containers."""
    from runtime.errors import EngineError

    project = pc.load(ctx, need_file=False)
    names = list(services or ())
    pc.select(project, names)
    engine = pc.engine(ctx)
    listing: list[dict[str, Any]] = []
    for c in pc.containers(ctx, project, services=names, all=False):
        try:
            procs = engine.container_top(c.id)
        except EngineError as exc:
            raise EngineCallError(f'container "{c.name}": {exc.message}') from exc
        if format is FormatOption.json:
            listing.append({"Name": c.name, "Service": c.service, "Processes": [
                {"UID": p.user, "PID": p.pid, "CMD": p.command} for p in procs]})
            continue
        render.line(c.name)
        render.table(("UID", "PID", "CMD"), [(p.user, p.pid, p.command) for p in procs])
        render.line()
    if format is FormatOption.json:
        render.json_out(listing)


def port(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    private_port: Annotated[int, typer.Argument(metavar="PRIVATE_PORT")],
    protocol: Annotated[str, typer.Option("--protocol", help="tcp, udp or sctp.")] = "tcp",
    index: Annotated[int, typer.Option("--index", help="Replica number.")] = 1,
) -> None:
    """Print the public address a service's port is published on."""
    project = pc.load(ctx, need_file=False)
    pc.select(project, [service])
    engine = pc.engine(ctx)
    for c in pc.containers(ctx, project, services=[service]):
        if c.number != index:
            continue
        info = engine.container_inspect(c.id)
        for p in info.ports:
            if p.container_port == private_port and p.protocol == protocol:
                render.line(f"{p.host_ip or '0.0.0.0'}:{p.host_port}")
                return
        raise UsageError(f'service "{service}": port {private_port}/{protocol} is not published')
    raise UsageError(f'service "{service}" has no container number {index}')


def events(
    ctx: typer.Context,
    services: ServicesArg = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    since: Annotated[str | None, typer.Option("--since", show_default=False)] = None,
    until: Annotated[str | None, typer.Option("--until", show_default=False)] = None,
) -> None:
    """Stream the stack's container events."""
    import json
    from datetime import UTC, datetime

    from orchestrator.cli.logs_format import parse_since
    from runtime import api as rapi
    from runtime.errors import EngineError

    project = pc.load(ctx, need_file=False)
    names = set(services or ())
    engine = pc.engine(ctx)
    try:
        for ev in engine.events(since=parse_since(since) if since else None,
                                until=parse_since(until) if until else None,
                                filters={"type": "container"}):
            attrs = dict(ev.attributes)
            if attrs.get(rapi.LABEL_PROJECT, project.name) != project.name:
                continue
            service = attrs.get(rapi.LABEL_SERVICE, "")
            if rapi.LABEL_PROJECT not in attrs:
                continue
            if names and service not in names:
                continue
            if json_out:
                render.line(json.dumps({"time": ev.time, "type": ev.type, "action": ev.action,
                                        "id": ev.id, "service": service,
                                        "attributes": attrs}))
            else:
                stamp = datetime.fromtimestamp(ev.time, UTC).isoformat()
                extra = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items())
                                  if not k.startswith(rapi.LABEL_PREFIX))
                render.line(f"{stamp} {ev.type} {ev.action} {ev.id} ({extra})")
    except EngineError as exc:
        raise EngineCallError(f"events: {exc.message}") from exc
