"""The root of the `stack` CLI: global options, the command tree, errors to exit codes.

Exit codes (documented in README.md):
    0 success · 1 an operation failed · 2 bad command-line usage ·
    3 the stack file is invalid · 4 no stack file found · 130 interrupted
"""


# No `from __future__ import annotations` here: Typer reads the root options' types on
# every run, and string annotations would have it compile and evaluate each one.
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator import __version__
from orchestrator.cli import render
from orchestrator.cli.lazy import LazyCommand, lazy_group
from orchestrator.cli.options import GlobalOptions
from orchestrator.cli.project_commands import PROJECT_COMMANDS

HELP = """Run multi-container application stacks from a compose / stack file.

Reads compose.yaml, docker-compose.yml or stack.yaml (searched for in the
current and parent directories), brings its own engine: no Docker needed."""

# Every command, by name: imported and built only when invoked (see lazy.py).
COMMANDS: dict[str, LazyCommand] = {
    "config": LazyCommand(target="orchestrator.cli.config_cmd:config",
                          settings={"help": "Validate the stack file(s) and print the "
                                    "normalised stack."}),
    "graph": LazyCommand(target="orchestrator.cli.graph_cmd:graph",
                         settings={"help": "Print the service dependency graph (text tree, "
                                   "Graphviz DOT or Mermaid)."}),
    **PROJECT_COMMANDS,  # up, down, plan, ps, logs, exec, run, ... (project_commands.py)
    # engine groups
    "image": LazyCommand(target="orchestrator.cli.image:app"),
    "container": LazyCommand(target="orchestrator.cli.container:app"),
    "network": LazyCommand(target="orchestrator.cli.network:app"),
    "volume": LazyCommand(target="orchestrator.cli.volume:app"),
    "system": LazyCommand(target="orchestrator.cli.system:app"),
    "images": LazyCommand(target="orchestrator.cli.image:ls",
                          settings={"help": "List images (same as `stack image ls`)."}),
    "info": LazyCommand(target="orchestrator.cli.system:info",
                        settings={"help": "Show engine-wide information."}),
    "version": LazyCommand(target="orchestrator.cli.system:version",
                           settings={"help": "Show the client and server versions."}),
}

app = typer.Typer(
    name="stack",
    cls=lazy_group(COMMANDS),
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)

_debug = False


def _version(value: bool) -> None:
    if value:
        render.line(f"stack version {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    file: Annotated[list[Path] | None, typer.Option(
        "-f", "--file", metavar="FILE", help="Stack file(s); later ones override earlier ones. "
        "Env: STACK_FILE / COMPOSE_FILE.", show_default=False)] = None,
    project_name: Annotated[str | None, typer.Option(
        "-p", "--project-name", metavar="NAME", help="Project name. Env: STACK_PROJECT_NAME / "
        "COMPOSE_PROJECT_NAME.", show_default=False)] = None,
    project_directory: Annotated[Path | None, typer.Option(
        "--project-directory", metavar="DIR", help="Base directory for relative paths "
        "(default: the first file's directory).", show_default=False)] = None,
    env_file: Annotated[list[Path] | None, typer.Option(
        "--env-file", metavar="FILE", help="Read variables for interpolation from this file "
        "(default: .env in the project directory).", show_default=False)] = None,
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", metavar="PROFILE", help="Enable a profile. Env: STACK_PROFILES / COMPOSE_PROFILES.",
        show_default=False)] = None,
    host: Annotated[str | None, typer.Option(
        "-H", "--host", metavar="URL", envvar="STACK_HOST", help="Engine to talk to: unix:///path or "
        "tcp://host:port. Env: STACK_HOST.", show_default=False)] = None,
    tlscacert: Annotated[Path | None, typer.Option(
        "--tlscacert", envvar="STACK_TLS_CACERT", help="With -H tcp://: trust the daemon's "
        "certificate only if this CA signed it.", show_default=False)] = None,
    tlscert: Annotated[Path | None, typer.Option(
        "--tlscert", envvar="STACK_TLS_CERT", help="With -H tcp://: client certificate.",
        show_default=False)] = None,
    tlskey: Annotated[Path | None, typer.Option(
        "--tlskey", envvar="STACK_TLS_KEY", help="With -H tcp://: client key.",
        show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show debug logs and tracebacks.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    global _debug
    _debug = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = GlobalOptions(
        files=tuple(file or ()),
        project_name=project_name,
        project_directory=project_directory,
        env_files=tuple(env_file or ()),
        profiles=tuple(profile or ()),
        host=host,
        tlscacert=tlscacert,
        tlscert=tlscert,
        tlskey=tlskey,
        debug=debug,
        environ=dict(os.environ),
    )




def run() -> None:
    """Console-script entry: runs the app and turns our errors into messages and exit codes."""
    from orchestrator.errors import StackError

    try:
        app()
    except StackError as exc:
        if _debug:
            raise
        render.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render.error("interrupted")
        sys.exit(130)
    except Exception as exc:  # an engine error, or a bug: one line, traceback only with --debug
        from runtime.errors import EngineError

        if _debug:
            raise
        if isinstance(exc, EngineError):
            render.error(exc.message)
            sys.exit(1)
        render.error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        sys.exit(1)


if __name__ == "__main__":
    run()
