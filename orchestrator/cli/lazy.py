"""Commands built only when they are used.

Typer turns every registered command into a click command (inspecting each
signature) before it parses argv; with ~80 commands that costs more than the
work of `stack config -q` itself. The root group instead knows its commands
by name as "module:attribute" strings and imports and builds one only when it
is invoked (or when --help lists them all).

A table entry is either a ``typer.Typer`` sub-app (a group such as
``image``) or a plain command function with its Typer ``command`` settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import typer
from typer.core import TyperGroup

from orchestrator.cli import coercion


@dataclass(frozen=True, slots=True, kw_only=True)
class LazyCommand:
    target: str  # "package.module:attribute"
    settings: Mapping[str, Any] = field(default_factory=dict)  # typer.command(...) keywords


def build(name: str, entry: LazyCommand) -> Any:
    """Import ``entry.target`` and turn it into a click command named ``name``."""
    module_name, _, attribute = entry.target.partition(":")
    obj = getattr(importlib.import_module(module_name), attribute)
    # Built the way add_typer would: plain help text like the root's, and the
    # completion options only on the root.
    command: Any
    if isinstance(obj, typer.Typer):
        obj.rich_markup_mode = None
        command = typer.main.get_group(obj)
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name, **entry.settings)(obj)
        command = typer.main.get_command(single)
    command.name = name
    coercion.prepare(command)
    return command


class LazyGroup(TyperGroup):
    """A root group whose ``table`` commands are imported on first use."""

    table: Mapping[str, LazyCommand] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        coercion.prepare(self)  # the global options (and the commands added later)

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.table})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.table:
            command = build(cmd_name, self.table[cmd_name])
            self.add_command(command, cmd_name)
        return command


def lazy_group(table: Mapping[str, LazyCommand]) -> type[LazyGroup]:
    """A LazyGroup class bound to ``table`` (Typer instantiates the class itself)."""
    return type("StackGroup", (LazyGroup,), {"table": dict(table)})
