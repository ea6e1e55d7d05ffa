"""`stack container ...`: run, create, start, stop, exec, logs, ls and friends (Docker-like).

Commands ask the engine (orchestrator.cli.engine.get_engine) through runtime.api
and render through orchestrator.cli.render. ``cp`` needs the container's files on
this host: it finds them from the engine's configuration (EngineConfig.from_env), so
it works with the in-process engine and with a stackd on the same machine. ``run``,
``start -a``, ``attach`` and ``exec -it`` go over the API (``container_attach``,
``container_exec_attach``, relayed by orchestrator.cli.terminal), so they work with
``-H tcp://...`` too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli import render
from orchestrator.cli.engine import get_engine
from orchestrator.cli.status import ago, ports_text, status_text

if TYPE_CHECKING:
    from runtime.api import ContainerConfig, ContainerInfo, Engine
    from runtime.config import EngineConfig

app = typer.Typer(help="Manage containers: run, exec, logs, stop, remove.",
                  no_args_is_help=True, rich_markup_mode=None)

_Opt = typer.Option


def _engine(ctx: typer.Context) -> Engine:
    return get_engine(ctx)


def _engine_config(ctx: typer.Context) -> EngineConfig:
    from orchestrator.cli.options import GlobalOptions
    from runtime.config import EngineConfig

    obj = ctx.find_root().obj
    return EngineConfig.from_env(obj.environ if isinstance(obj, GlobalOptions) else None)


# --- run / create ----------------------------------------------------------------------

Env = Annotated[list[str] | None, _Opt("-e", "--env", help="KEY=value (or KEY from here).")]
Volume = Annotated[list[str] | None, _Opt("-v", "--volume",
                                          help="name:/path, /host:/path[:ro] or /path.")]
Publish = Annotated[list[str] | None, _Opt("-p", "--publish", help="[ip:][host:]port[/proto].")]
Label = Annotated[list[str] | None, _Opt("-l", "--label", help="key=value.")]
Image = Annotated[str, typer.Argument(help="Image reference.")]
Command = Annotated[list[str] | None, typer.Argument(help="Command and arguments.")]
Name = Annotated[str | None, _Opt("--name", help="Container name.")]
Tmpfs = Annotated[list[str] | None, _Opt("--tmpfs", help="/path[:size=64m,mode=1777].")]
Entrypoint = Annotated[str | None, _Opt("--entrypoint", help="Override ENTRYPOINT.")]
Workdir = Annotated[str | None, _Opt("-w", "--workdir", help="Working directory.")]
User = Annotated[str | None, _Opt("-u", "--user", help="name, uid or uid:gid.")]
Hostname = Annotated[str | None, _Opt("--hostname", help="Container host name.")]
Network = Annotated[str | None, _Opt("--network", help="bridge, none, host, container:<n> "
                                                       "or a network name.")]
Init = Annotated[bool, _Opt("--init", help="Run tini as PID 1.")]
ReadOnly = Annotated[bool, _Opt("--read-only", help="Read-only root file system.")]
Privileged = Annotated[bool, _Opt("--privileged", help="All capabilities, no seccomp.")]
CapAdd = Annotated[list[str] | None, _Opt("--cap-add", help="Add a capability.")]
CapDrop = Annotated[list[str] | None, _Opt("--cap-drop", help="Drop a capability.")]
Memory = Annotated[str | None, _Opt("-m", "--memory", help="Memory limit, e.g. 64m.")]
Cpus = Annotated[float | None, _Opt("--cpus", help="CPU quota, e.g. 0.5.")]
PidsLimit = Annotated[int | None, _Opt("--pids-limit", help="Max processes.")]
ShmSize = Annotated[str | None, _Opt("--shm-size", help="Size of /dev/shm.")]
Ulimits = Annotated[list[str] | None, _Opt("--ulimit", help="name=soft[:hard].")]
Restart = Annotated[str | None, _Opt("--restart", help="no, always, on-failure[:N], "
                                                       "unless-stopped.")]
StopSignal = Annotated[str | None, _Opt("--stop-signal", help="Signal to stop.")]
StopTimeout = Annotated[float | None, _Opt("--stop-timeout", help="Seconds.")]
Interactive = Annotated[bool, _Opt("-i", "--interactive", help="Keep stdin open.")]
Tty = Annotated[bool, _Opt("-t", "--tty", help="Allocate a terminal.")]


def _config(ctx: typer.Context, params: dict[str, Any]) -> ContainerConfig:
    """A ContainerConfig from the options of `run`/`create` (``params``: their locals)."""
    from runtime.api import ContainerConfig, EndpointConfig, Resources
    from runtime.containers import shortsyntax as ss

    p = params
    mode = p.get("network") or "bridge"
    networks: tuple[EndpointConfig, ...] = ()
    if mode not in ("bridge", "none", "host") and not mode.startswith("container:"):
        networks, mode = (EndpointConfig(network=mode),), "bridge"
    environ = getattr(ctx.find_root().obj, "environ", None) or dict(os.environ)
    entrypoint = p.get("entrypoint")
    return ContainerConfig(
        name=p.get("name") or "", image=p["image"],
        command=tuple(p["command"]) if p.get("command") else None,
        entrypoint=None if entrypoint is None else tuple(x for x in [entrypoint] if x),
        env=ss.parse_env(p.get("env") or [], environ),
        labels=ss.parse_labels(p.get("label") or []),
        user=p.get("user"), working_dir=p.get("workdir"), hostname=p.get("hostname"),
        tty=bool(p.get("tty")), stdin_open=bool(p.get("interactive")),
        init=bool(p.get("init")), read_only=bool(p.get("read_only")),
        privileged=bool(p.get("privileged")),
        cap_add=tuple(p.get("cap_add") or ()), cap_drop=tuple(p.get("cap_drop") or ()),
        mounts=tuple([ss.parse_volume(v) for v in p.get("volume") or []]
                     + [ss.parse_tmpfs(t) for t in p.get("tmpfs") or []]),
        shm_size=ss.parse_size(p["shm_size"]) if p.get("shm_size") else None,
        ulimits=tuple(ss.parse_ulimit(u) for u in p.get("ulimit") or []),
        resources=Resources(memory=ss.parse_size(p["memory"]) if p.get("memory") else None,
                            cpus=p.get("cpus"), pids_limit=p.get("pids_limit")),
        stop_signal=p.get("stop_signal"), stop_timeout=p.get("stop_timeout"),
        network_mode=mode, networks=networks,
        ports=tuple(b for spec in p.get("publish") or [] for b in ss.parse_port(spec)),
        restart=ss.parse_restart(p.get("restart") or "no"),
        auto_remove=bool(p.get("rm")) and bool(p.get("detach")),
    )


def _create(ctx: typer.Context, config: ContainerConfig) -> ContainerInfo:
    from runtime.errors import NotFound

    engine = _engine(ctx)
    try:
        return engine.container_create(config)
    except NotFound:
        try:
            engine.image_inspect(config.image)
        except NotFound:
            render.warning(f'image "{config.image}" not found here: pulling it')
            with render.transfer_progress() as progress:
                engine.image_pull(config.image, progress=progress)
            return engine.container_create(config)
        raise


@app.command("run", context_settings={"allow_interspersed_args": False},
             help="Create and start a container; without -d, wait for it and exit with its code.")
def run(
    ctx: typer.Context, image: Image, command: Command = None,
    detach: Annotated[bool, _Opt("-d", "--detach", help="Run in the background.")] = False,
    rm: Annotated[bool, _Opt("--rm", help="Remove the container when it exits.")] = False,
    name: Name = None, env: Env = None, volume: Volume = None, publish: Publish = None,
    label: Label = None, tmpfs: Tmpfs = None, entrypoint: Entrypoint = None,
    workdir: Workdir = None, user: User = None, hostname: Hostname = None,
    network: Network = None, init: Init = False, read_only: ReadOnly = False,
    privileged: Privileged = False, cap_add: CapAdd = None, cap_drop: CapDrop = None,
    memory: Memory = None, cpus: Cpus = None, pids_limit: PidsLimit = None,
    shm_size: ShmSize = None, ulimit: Ulimits = None, restart: Restart = None,
    stop_signal: StopSignal = None, stop_timeout: StopTimeout = None,
    interactive: Interactive = False, tty: Tty = False,
) -> None:
    config = _config(ctx, dict(locals()))
    engine = _engine(ctx)
    info = _create(ctx, config)
    if detach:
        engine.container_start(info.id)
        render.line(info.id)
        return
    from orchestrator.cli.terminal import attached

    try:
        code = attached(engine, info.id, tty=tty, interactive=interactive, start=True)
    finally:
        if rm:
            engine.container_remove(info.id, force=True, volumes=True)
    raise typer.Exit(code)


@app.command("create", context_settings={"allow_interspersed_args": False},
             help="Create a container without starting it (the options of run).")
def create(
    ctx: typer.Context, image: Image, command: Command = None,
    name: Name = None, env: Env = None, volume: Volume = None, publish: Publish = None,
    label: Label = None, tmpfs: Tmpfs = None, entrypoint: Entrypoint = None,
    workdir: Workdir = None, user: User = None, hostname: Hostname = None,
    network: Network = None, init: Init = False, read_only: ReadOnly = False,
    privileged: Privileged = False, cap_add: CapAdd = None, cap_drop: CapDrop = None,
    memory: Memory = None, cpus: Cpus = None, pids_limit: PidsLimit = None,
    shm_size: ShmSize = None, ulimit: Ulimits = None, restart: Restart = None,
    stop_signal: StopSignal = None, stop_timeout: StopTimeout = None,
    interactive: Interactive = False, tty: Tty = False,
) -> None:
    render.line(_create(ctx, _config(ctx, dict(locals()))).id)


def _follow(engine: Engine, ref: str, *, timestamps: bool, since: float | None,
            tail: int | None, follow: bool = True) -> None:
    for entry in engine.container_logs(ref, follow=follow, since=since, tail=tail):
        prefix = b""
        if timestamps:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.time))
            prefix = f"{stamp}.{int(entry.time % 1 * 1e9):09d}Z ".encode()
        render.raw(prefix + entry.data + (b"" if entry.partial else b"\n"),
                   stderr=entry.stream == "stderr")


# --- lifecycle -------------------------------------------------------------------------

Refs = Annotated[list[str], typer.Argument(help="Containers (names, ids or id prefixes).")]


@app.command("start", help="Start stopped containers (-a: one, in the foreground).")
def start(
    ctx: typer.Context, refs: Refs,
    attach: Annotated[bool, _Opt("-a", "--attach", help="Attach its output; exit with its "
                                                        "code.")] = False,
    interactive: Annotated[bool, _Opt("-i", "--interactive", help="Attach stdin.")] = False,
) -> None:
    if attach or interactive:
        from orchestrator.cli.terminal import attached
        from runtime.errors import InvalidArgument

        if len(refs) != 1:
            raise InvalidArgument("start: -a and -i take one container")
        config = _engine(ctx).container_inspect(refs[0]).config
        raise typer.Exit(attached(_engine(ctx), refs[0], tty=config.tty,
                                  interactive=interactive and config.stdin_open, start=True))
    for ref in refs:
        _engine(ctx).container_start(ref)
        render.line(ref)


@app.command("attach", help="Connect to a running container's main process: its output "
                            "from now on, stdin if it was created with -i; exit with its code.")
def attach(
    ctx: typer.Context, ref: Annotated[str, typer.Argument(help="Container.")],
    no_stdin: Annotated[bool, _Opt("--no-stdin", help="Do not attach stdin.")] = False,
) -> None:
    from orchestrator.cli.terminal import attached
    from runtime.errors import FailedPrecondition

    info = _engine(ctx).container_inspect(ref)
    if info.pid is None:
        raise FailedPrecondition(f'container "{info.name}" is not running: '
                                 "start it with start -a")
    raise typer.Exit(attached(_engine(ctx), info.id, tty=info.config.tty,
                              interactive=info.config.stdin_open and not no_stdin,
                              start=False))


@app.command("stop", help="Stop containers: the stop signal, then SIGKILL after the timeout.")
def stop(
    ctx: typer.Context, refs: Refs,
    time_: Annotated[float | None, _Opt("-t", "--time", help="Seconds before SIGKILL.")] = None,
    signal_: Annotated[str | None, _Opt("-s", "--signal", help="Signal to send.")] = None,
) -> None:
    for ref in refs:
        _engine(ctx).container_stop(ref, signal=signal_, timeout=time_)
        render.line(ref)


@app.command("restart", help="Stop and start containers.")
def restart(
    ctx: typer.Context, refs: Refs,
    time_: Annotated[float | None, _Opt("-t", "--time", help="Seconds before SIGKILL.")] = None,
) -> None:
    for ref in refs:
        _engine(ctx).container_restart(ref, timeout=time_)
        render.line(ref)


@app.command("kill", help="Send a signal (default KILL) to containers.")
def kill(
    ctx: typer.Context, refs: Refs,
    signal_: Annotated[str, _Opt("-s", "--signal", help="Signal to send.")] = "KILL",
) -> None:
    for ref in refs:
        _engine(ctx).container_kill(ref, signal=signal_)
        render.line(ref)


@app.command("pause", help="Freeze all processes of containers.")
def pause(ctx: typer.Context, refs: Refs) -> None:
    for ref in refs:
        _engine(ctx).container_pause(ref)
        render.line(ref)


@app.command("unpause", help="Thaw paused containers.")
def unpause(ctx: typer.Context, refs: Refs) -> None:
    for ref in refs:
        _engine(ctx).container_unpause(ref)
        render.line(ref)


@app.command("rm", help="Remove containers.")
def rm(
    ctx: typer.Context, refs: Refs,
    force: Annotated[bool, _Opt("-f", "--force", help="Kill running ones first.")] = False,
    volumes: Annotated[bool, _Opt("-v", "--volumes", help="Also their anonymous volumes.")] = False,
) -> None:
    for ref in refs:
        _engine(ctx).container_remove(ref, force=force, volumes=volumes)
        render.line(ref)


@app.command("wait", help="Wait for containers to exit and print their exit codes.")
def wait(ctx: typer.Context, refs: Refs) -> None:
    for ref in refs:
        render.line(str(_engine(ctx).container_wait(ref)))


# --- read ------------------------------------------------------------------------------


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(value), default=str))


@app.command("ls", help="List containers (running ones unless -a).")
def ls(
    ctx: typer.Context,
    all_: Annotated[bool, _Opt("-a", "--all", help="Also stopped containers.")] = False,
    filter_: Annotated[list[str] | None, _Opt("--filter", help="label=key[=value], name=, "
                                                               "status=.")] = None,
    format_: Annotated[str, _Opt("--format", help="table or json.")] = "table",
    quiet: Annotated[bool, _Opt("-q", "--quiet", help="Only ids.")] = False,
) -> None:
    labels: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    for f in filter_ or []:
        key, _, value = f.partition("=")
        if key == "label":
            k, _, v = value.partition("=")
            labels[k] = v
        else:
            others.append((key, value))
    items = _engine(ctx).container_list(all=all_, labels=labels or None)
    for key, value in others:
        if key == "name":
            items = [c for c in items if value in c.name]
        elif key == "status":
            items = [c for c in items if c.state.value == value]
        elif key == "id":
            items = [c for c in items if c.id.startswith(value)]
    if format_ == "json":
        render.json_out([_as_json(c) for c in items])
    elif quiet:
        for c in items:
            render.line(c.id[:12])
    else:
        render.table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
                     [[c.id[:12], c.image, _command(c)[:30],
                       f"{ago(time.time() - c.created_at)} ago", status_text(c), ports_text(c),
                       c.name] for c in items])


app.command("ps", help="List containers (same as ls).")(ls)


def _command(c: ContainerInfo) -> str:
    parts = [*(c.config.entrypoint or ()), *(c.config.command or ())]
    return '"' + " ".join(parts) + '"' if parts else ""


@app.command("inspect", help="Show containers as JSON.")
def inspect(ctx: typer.Context, refs: Refs) -> None:
    render.json_out([_as_json(_engine(ctx).container_inspect(r)) for r in refs])


@app.command("logs", help="Show a container's output.")
def logs(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Container.")],
    follow: Annotated[bool, _Opt("-f", "--follow", help="Keep following new output.")] = False,
    tail: Annotated[str | None, _Opt("-n", "--tail", help="Last N lines (or all).")] = None,
    timestamps: Annotated[bool, _Opt("-t", "--timestamps", help="Show times.")] = False,
    since: Annotated[str | None, _Opt("--since", help="UNIX time or duration (10s, 5m).")] = None,
) -> None:
    n = None if tail is None or tail == "all" else int(tail)
    _follow(_engine(ctx), ref, timestamps=timestamps, since=_since(since), tail=n, follow=follow)


def _since(text: str | None) -> float | None:
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(text[:-1]) * units[text[-1]]
    return float(text)


@app.command("exec", context_settings={"allow_interspersed_args": False},
             help="Run a command in a running container.")
def exec_(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Container.")],
    command: Annotated[list[str], typer.Argument(help="Command and arguments.")],
    interactive: Annotated[bool, _Opt("-i", "--interactive", help="Pass stdin.")] = False,
    tty: Annotated[bool, _Opt("-t", "--tty", help="Allocate a terminal.")] = False,
    env: Env = None,
    user: Annotated[str | None, _Opt("-u", "--user", help="name, uid or uid:gid.")] = None,
    workdir: Annotated[str | None, _Opt("-w", "--workdir", help="Working directory.")] = None,
) -> None:
    import subprocess

    from runtime.containers import shortsyntax

    environ = getattr(ctx.find_root().obj, "environ", None) or dict(os.environ)
    env_map = shortsyntax.parse_env(env or [], environ)
    engine = _engine(ctx)
    attach = getattr(engine, "container_exec_attach", None)
    if (tty or interactive) and attach is not None:
        # Through stackd (maybe on another host): the daemon runs runc, we relay.
        from orchestrator.cli.terminal import relay, terminal_size

        rows, cols = terminal_size(sys.stdin.fileno()) if tty else (0, 0)
        session = attach(ref, command, env=env_map, user=user, workdir=workdir, tty=tty,
                         rows=rows, cols=cols)
        raise typer.Exit(relay(session, tty=tty, interactive=interactive))
    if tty or interactive:
        # In process (STACK_ENGINE=local): runc exec in the foreground on this terminal.
        from runtime.containers.exec import exec_argv
        from runtime.containers.runc import Runc

        info = engine.container_inspect(ref)
        if info.pid is None:
            from runtime.errors import FailedPrecondition

            raise FailedPrecondition(f'container "{info.name}" is not running')
        config = _engine_config(ctx)
        argv = exec_argv(Runc(binary=config.runtime, root=config.runc_root), info.id, command,
                         rootfs=config.containers_dir / info.id / "merged", tty=tty,
                         env=env_map, user=user, workdir=workdir)
        raise typer.Exit(subprocess.run(argv, check=False).returncode)
    result = engine.container_exec(ref, command, env=env_map, user=user, workdir=workdir)
    render.raw(result.stdout)
    render.raw(result.stderr, stderr=True)
    raise typer.Exit(result.exit_code)


@app.command("top", help="Show a container's processes.")
def top(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="Container.")]) -> None:
    render.table(["PID", "USER", "COMMAND"],
                 [[p.pid, p.user, p.command] for p in _engine(ctx).container_top(ref)])


@app.command("stats", help="Show CPU, memory and process counts of running containers.")
def stats(
    ctx: typer.Context,
    refs: Annotated[list[str] | None, typer.Argument(help="Containers (default: all running).")] = None,
    no_stream: Annotated[bool, _Opt("--no-stream", help="One report, then exit.")] = False,
) -> None:
    engine = _engine(ctx)
    names = refs or [c.name for c in engine.container_list()]
    before: dict[str, tuple[float, float]] = {}
    while True:
        rows = []
        for ref in names:
            s = engine.container_stats(ref)
            now = time.monotonic()
            last = before.get(ref)
            cpu = (s.cpu_seconds - last[0]) / (now - last[1]) * 100 if last else 0.0
            before[ref] = (s.cpu_seconds, now)
            limit = f"{s.memory_limit / 2**20:.1f}MiB" if s.memory_limit else "-"
            rows.append([ref, f"{cpu:.2f}%", f"{s.memory_usage / 2**20:.1f}MiB / {limit}",
                         s.pids])
        render.table(["NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS"], rows)
        if no_stream:
            return
        time.sleep(1)


@app.command("cp", help="Copy files between a container and here: NAME:PATH DEST or SRC NAME:PATH.")
def cp(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="NAME:PATH or a local path.")],
    dest: Annotated[str, typer.Argument(help="NAME:PATH or a local path.")],
) -> None:
    from runtime.containers.copy import host_path
    from runtime.errors import InvalidArgument

    into = ":" in dest and not dest.startswith(("/", "."))
    spec = dest if into else source
    if ":" not in spec:
        raise InvalidArgument("cp: one side must be CONTAINER:PATH")
    ref, _, path = spec.partition(":")
    engine = get_engine(ctx)
    service = getattr(engine, "containers", None)
    if service is None:  # a daemon on this host: the container must be running
        info = engine.container_inspect(ref)
        bundle = _engine_config(ctx).containers_dir / info.id
        _copy(host_path(bundle, path if not into else _parent(path)), source, dest, into, path)
        return
    with service.mounted_bundle(ref) as bundle:
        _copy(host_path(bundle, path if not into else _parent(path)), source, dest, into, path)


def _parent(path: str) -> str:
    return path if path.endswith("/") else (os.path.dirname(path) or "/")


def _copy(resolved: Path, source: str, dest: str, into: bool, path: str) -> None:
    from runtime.errors import Conflict

    if into:
        target = resolved if path.endswith("/") else resolved / os.path.basename(path)
        if target.is_dir() and not target.is_symlink():
            target = target / os.path.basename(source.rstrip("/"))
        # Never write through a link the container made: on the host it could point
        # anywhere (an absolute link to /etc/passwd means the HOST's file here).
        if target.is_symlink() or (Path(source).is_dir() and target.exists()):
            raise Conflict(f'cp: "{path}" exists in the container as a link or directory')
        src = Path(source)
    else:
        src = resolved
        target = Path(dest)
        if target.is_dir():
            target = target / src.name
    if src.is_dir():
        shutil.copytree(src, target, symlinks=True)
    else:
        shutil.copy2(src, target, follow_symlinks=False)
