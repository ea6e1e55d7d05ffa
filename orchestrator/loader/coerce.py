"""Loose stack-file values to their one typed form, failing with the location.

Used by the normalize stage (``normalize``, ``service_fields``). Each helper
takes the ``Context`` and the value's path so that a bad value becomes a
``ConfigError`` at file:line:column. Pure but for ``Context.abspath`` reading
the environment's HOME.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.loader.source import SourceMap
from orchestrator.units import parse_bool, parse_duration, parse_int, parse_size

P = tuple[str | int, ...]
URL = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/)", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What every normalizer needs: positions, project settings, and where warnings go."""

    sources: SourceMap
    project_name: str
    project_directory: Path
    environment: Mapping[str, str]
    warnings: list[str]

    def error(self, path: P, summary: str, *, hint: str | None = None) -> ConfigError:
        return ConfigError(summary, location=self.sources.locate(path), path=path, hint=hint)

    def abspath(self, value: str) -> str:
        """As compose resolves a host path: an absolute one stays exactly as written
        (``/var/lib/docker/``), a relative or ``~`` one is joined and cleaned."""
        if value.startswith("~"):
            home = self.environment.get("HOME") or os.path.expanduser("~")
            return os.path.normpath(home + value[1:])
        if os.path.isabs(value):
            return value
        return os.path.normpath(str(self.project_directory / value))


def to_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    return str(v)


def go_float(v: float) -> str:
    """``v`` as compose prints a number it read where a string belongs (Go's ``%v``):
    the shortest digits, in exponent form below 1e-4 and from 1e6 on (``1e+06``)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(v)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point falls in ``text``
    head = "-" if sign else ""
    if v == 0:
        return head + "0"
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        exp = point - 1
        return f"{head}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{head}0.{'0' * -point}{text}"
    if point >= len(text):
        return head + text + "0" * (point - len(text))
    return f"{head}{text[:point]}.{text[point:]}"


def kv_map(
    ctx: Context, path: P, value: Any, *, sep: str = "=", empty: str | None = ""
) -> dict[str, Any]:
    """``[K=V, K]`` or ``{K: V}`` to ``{K: str}``; a bare ``K`` maps to ``empty``."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out[str(k)] = empty if v is None else to_str(v)
    elif isinstance(value, list):
        for item in value:
            text = to_str(item)
            key, found, val = text.partition(sep)
            out[key] = val if found else empty
    return out


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def command_line(ctx: Context, path: P, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [to_str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError as exc:
        raise ctx.error(path, f"cannot split the command line: {exc}") from exc


def to_int(ctx: Context, path: P, v: Any) -> int:
    try:
        return parse_int(v)
    except ValueError as exc:
        raise ctx.error(path, str(exc)) from exc


def to_float(ctx: Context, path: P, v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError) as exc:
        raise ctx.error(path, f'"{v}" is not a number') from exc


def to_bool(ctx: Context, path: P, v: Any) -> bool:
    try:
        return parse_bool(v)
    except ValueError as exc:
        raise ctx.error(path, str(exc)) from exc


def duration(ctx: Context, path: P, v: Any) -> float:
    try:
        return parse_duration(v)
    except ValueError as exc:
        raise ctx.error(path, str(exc)) from exc


def size(ctx: Context, path: P, v: Any) -> int:
    try:
        return parse_size(v)
    except ValueError as exc:
        raise ctx.error(path, str(exc)) from exc


def octal_mode(ctx: Context, path: P, v: Any) -> int:
    # the YAML reader already took 0440 as octal (288), as go-yaml does; a string "0440" is octal too.
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    try:
        return int(str(v), 8)
    except ValueError as exc:
        raise ctx.error(path, f'"{v}" is not an octal file mode') from exc


def ulimits(ctx: Context, path: P, value: Any) -> dict[str, dict[str, int | bool]]:
    out: dict[str, dict[str, int | bool]] = {}
    for name, v in (value or {}).items():
        if isinstance(v, dict):
            soft = to_int(ctx, (*path, name, "soft"), v.get("soft"))
            hard = to_int(ctx, (*path, name, "hard"), v.get("hard"))
            if soft > hard and hard != -1:
                raise ctx.error(
                    (*path, name),
                    f'ulimit "{name}": soft limit {soft} is above the hard limit {hard}',
                )
            out[str(name)] = {"soft": soft, "hard": hard}
        else:
            n = to_int(ctx, (*path, name), v)
            out[str(name)] = {"soft": n, "hard": n, "single": True}
    return out


def extra_hosts(ctx: Context, path: P, value: Any) -> list[list[str]]:
    """To ``[[host, ip], ...]``; list items are ``host:ip`` or ``host=ip``."""
    out: list[list[str]] = []
    if isinstance(value, dict):
        for host, ips in value.items():
            for ip in as_list(ips):
                out.append([str(host), to_str(ip)])
        return out
    for i, item in enumerate(value or []):
        text = to_str(item)
        sep = "=" if "=" in text else ":"
        host, found, ip = text.partition(sep)
        if not found or not host or not ip:
            raise ctx.error(
                (*path, i),
                f'"{text}" is not a valid extra host: use "hostname:ip" or "hostname=ip"',
            )
        out.append([host, ip.strip("[]") if ip.startswith("[") else ip])
    return out
