"""The project command table: issue 7's commands by name, for the root app's lazy table.

Each module holds a group of commands; importing them stays cheap (their heavy
imports are inside the command functions).
"""

from __future__ import annotations

from orchestrator.cli.lazy import LazyCommand

# name -> the function that implements it; main.py builds each only when invoked.
PROJECT_COMMANDS: dict[str, LazyCommand] = {
    "up": LazyCommand(target="orchestrator.cli.project_cmds:up"),
    "down": LazyCommand(target="orchestrator.cli.project_cmds:down"),
    "plan": LazyCommand(target="orchestrator.cli.project_cmds:plan"),
    "create": LazyCommand(target="orchestrator.cli.project_cmds:create"),
    "ps": LazyCommand(target="orchestrator.cli.state_cmds:ps"),
    "ls": LazyCommand(target="orchestrator.cli.state_cmds:ls"),
    "top": LazyCommand(target="orchestrator.cli.state_cmds:top"),
    "port": LazyCommand(target="orchestrator.cli.state_cmds:port"),
    "events": LazyCommand(target="orchestrator.cli.state_cmds:events"),
    "logs": LazyCommand(target="orchestrator.cli.logs_cmds:logs"),
    "start": LazyCommand(target="orchestrator.cli.lifecycle_cmds:start"),
    "stop": LazyCommand(target="orchestrator.cli.lifecycle_cmds:stop"),
    "restart": LazyCommand(target="orchestrator.cli.lifecycle_cmds:restart"),
    "kill": LazyCommand(target="orchestrator.cli.lifecycle_cmds:kill"),
    "pause": LazyCommand(target="orchestrator.cli.lifecycle_cmds:pause"),
    "unpause": LazyCommand(target="orchestrator.cli.lifecycle_cmds:unpause"),
    "rm": LazyCommand(target="orchestrator.cli.lifecycle_cmds:rm"),
    "wait": LazyCommand(target="orchestrator.cli.lifecycle_cmds:wait"),
    "exec": LazyCommand(target="orchestrator.cli.exec_cmds:exec_",
                      settings={"context_settings": {"allow_interspersed_args": False}}),
    "run": LazyCommand(target="orchestrator.cli.exec_cmds:run",
                      settings={"context_settings": {"allow_interspersed_args": False}}),
    "pull": LazyCommand(target="orchestrator.cli.exec_cmds:pull"),
    "push": LazyCommand(target="orchestrator.cli.exec_cmds:push"),
    "cp": LazyCommand(target="orchestrator.cli.exec_cmds:cp"),
    "build": LazyCommand(target="orchestrator.cli.exec_cmds:build"),
}
