"""`stack config`: print the normalised stack (owner: loader back-end)."""

from __future__ import annotations

import typer

HELP = "Validate the stack file(s) and print the normalised stack."


def config(ctx: typer.Context) -> None:
    raise NotImplementedError  # filled in by the loader back-end work
