"""JSON Schema of the stack file and the OpenAPI document of the daemon API."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """Absolute path of a schema document shipped in this folder."""
    return HERE / name
