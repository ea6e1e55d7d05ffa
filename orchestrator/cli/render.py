"""All user-facing output: errors, JSON, tables. Commands call these; nothing else prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def json_out(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain, aligned table (like `docker ps`): stable for scripts and terminals alike."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for r in cells:
        sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
