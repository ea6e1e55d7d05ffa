"""The orchestrator's error tree.

Every error a user can cause is a ``StackError``: it carries a one-line
summary, where it happened (file:line:column and the dotted path inside the
stack file, when known), an optional detail and an optional hint ("did you
mean ..."). Only the CLI turns these into output and exit codes; nothing below
it prints or exits.

    StackError                 exit 1
    ├── UsageError             exit 2   bad command-line input
    ├── ConfigError            exit 3   the stack file is invalid (load, validate, checks)
    │   └── CycleError                  depends_on cycle, names the cycle
    ├── FileNotFoundStackError exit 4   no stack file found / a named file is missing
    └── EngineCallError        exit 1   an engine operation failed (wraps runtime errors)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A place in a source file; line and column are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def format_path(path: tuple[str | int, ...]) -> str:
    """Render a path inside the stack file: ``services.web.ports[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


class StackError(Exception):
    """Base of every user-facing orchestrator error."""

    exit_code = 1

    def __init__(
        self,
        summary: str,
        *,
        location: Location | None = None,
        path: tuple[str | int, ...] = (),
        detail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.location = location
        self.path = path
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}: ")
        if self.path:
            parts.append(f"{format_path(self.path)}: ")
        parts.append(self.summary)
        text = "".join(parts)
        if self.detail:
            text += f"\n  {self.detail}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(StackError):
    exit_code = 2


class ConfigError(StackError):
    exit_code = 3


class CycleError(ConfigError):
    pass


class FileNotFoundStackError(StackError):
    exit_code = 4


class EngineCallError(StackError):
    exit_code = 1
