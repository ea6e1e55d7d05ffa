"""Durations, sizes, booleans and integers as compose writes them, both ways.

Pure: no I/O. Parsing accepts what compose accepts (Go durations like
``1m30s``, docker sizes like ``512m``, strings left by interpolation);
formatting produces what ``docker compose config`` prints.
"""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_TRUE = frozenset({"1", "t", "true", "y", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "n", "no", "off"})


def parse_duration(value: object) -> float:
    """Seconds from ``1m30s``, ``500ms``, ``2h``, or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f'"{value}" is not a duration')
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(f'"{text}" is not a duration: use e.g. 30s, 1m30s, 500ms')
    return sign * total


def parse_size(value: object) -> int:
    """Bytes from ``512m``, ``1g``, ``64k``, ``1.5gb`` (binary units) or a number."""
    if isinstance(value, bool):
        raise ValueError(f'"{value}" is not a size')
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    m = _SIZE.match(str(value).strip())
    if m is None:
        raise ValueError(f'"{value}" is not a size: use e.g. 512m, 1g, or a number of bytes')
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'"{value}" is not a boolean: use true or false')


def parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f'"{value}" is not an integer')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f'"{value}" is not an integer') from None


def format_duration(seconds: float) -> str:
    """As Go's time.Duration prints it (what compose shows): 1m30s, 1.5s, 500ms, 1h0m0s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    secs = _decimal(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return sign + secs


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + str(frac).rjust(digits, "0").rstrip("0")
