"""The project command table: one place that puts issue 7's commands on the root app.

Each module holds a group of commands; importing them stays cheap (their heavy
imports are inside the command functions).
"""

from __future__ import annotations

import typer

from orchestrator.cli import exec_cmds, lifecycle_cmds, logs_cmds, project_cmds, state_cmds


def register(app: typer.Typer) -> None:
    app.command("up")(project_cmds.up)
    app.command("down")(project_cmds.down)
    app.command("plan")(project_cmds.plan)
    app.command("create")(project_cmds.create)
    app.command("ps")(state_cmds.ps)
    app.command("ls")(state_cmds.ls)
    app.command("top")(state_cmds.top)
    app.command("port")(state_cmds.port)
    app.command("events")(state_cmds.events)
    app.command("logs")(logs_cmds.logs)
    app.command("start")(lifecycle_cmds.start)
    app.command("stop")(lifecycle_cmds.stop)
    app.command("restart")(lifecycle_cmds.restart)
    app.command("kill")(lifecycle_cmds.kill)
    app.command("pause")(lifecycle_cmds.pause)
    app.command("unpause")(lifecycle_cmds.unpause)
    app.command("rm")(lifecycle_cmds.rm)
    app.command("wait")(lifecycle_cmds.wait)
    app.command("exec", context_settings={"allow_interspersed_args": False})(exec_cmds.exec_)
    app.command("run", context_settings={"allow_interspersed_args": False})(exec_cmds.run)
    app.command("pull")(exec_cmds.pull)
    app.command("push")(exec_cmds.push)
    app.command("cp")(exec_cmds.cp)
    app.command("build")(exec_cmds.build)
