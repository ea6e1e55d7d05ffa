"""Frozen API dataclasses to JSON-able data and back (for the container records).

Driven by the dataclasses' type hints, so a new field in runtime.api needs no
change here. Handles nested dataclasses, ``X | None``, ``tuple[X, ...]``,
fixed tuples, ``Mapping[str, str]``, enums, Literals and ``bytes`` (as base64, so the
record stays JSON).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    import runtime.api as api_module

    return typing.get_type_hints(cls, vars(api_module))


def from_data(cls: type[T], data: Any) -> T:
    """Rebuild ``cls`` (a dataclass) from ``to_data`` output; unknown keys are ignored."""
    hints = _hints(cls)  # type: ignore[arg-type]
    kwargs = {f.name: _convert(hints[f.name], data[f.name])
              for f in dataclasses.fields(cls)  # type: ignore[arg-type]
              if f.name in data}
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            return _convert(arg, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if origin in (Mapping, dict, typing.Mapping):
        return {k: _convert(args[1], v) for k, v in value.items()} if args else dict(value)
    if origin is typing.Literal:
        return value
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return from_data(tp, value)
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is float:
            return float(value)
        if tp is bytes:
            return base64.b64decode(value)
    return value
