"""Command-line values converted without pydantic, where that is one Python call.

Recent typer versions convert every parameter through a pydantic ``TypeAdapter``
built on first use: importing pydantic and compiling the adapters costs ~70 ms of
CPU, half of what a `stack ps` may take in all. Our parameters are plain: str,
bool, int, float, pathlib.Path (no path checks asked for) and enums, alone,
optional or in a list. ``prepare(command)`` gives each such parameter a
converter that takes a well-formed value directly and hands anything else to
typer's own converter (built then), so odd input and every error message stay
typer's. Other annotations, and typer versions without this machinery (no
``typer._coercion``), are left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class _Unhandled(Exception):
    """The value is not one the direct conversion takes: typer's own decides."""


def _direct(value: Any, kind: type) -> Any:
    if type(value) is kind:
        return value
    raise _Unhandled


def _number(pattern: re.Pattern[str], kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str) and pattern.fullmatch(value):
            return kind(value)
        return _direct(value, kind)

    return convert


def _path(kind: type[Path]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if not isinstance(value, str) or (os.path.exists(value)
                                          and not os.access(value, os.R_OK)):
            raise _Unhandled  # typer's says it is not readable
        return kind(value)

    return convert


def _choice(kind: type[Enum]) -> Callable[[Any], Any]:
    by_value = {str(m.value): m for m in kind}

    def convert(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if isinstance(value, str) and value in by_value:
            return by_value[value]
        raise _Unhandled  # other spellings (case) and errors: typer's

    return convert


def _leaf(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    if getattr(info, "parser", None) is not None:
        return None
    numeric = (getattr(info, "min", None), getattr(info, "max", None), getattr(info, "clamp", None))
    if annotation is str:
        return lambda value: _direct(value, str)
    if annotation is bool:
        return lambda value: _direct(value, bool)
    if annotation is int and not any(numeric):
        return _number(_INT, int)
    if annotation is float and not any(numeric):
        return _number(_FLOAT, float)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(annotation)
    plain_path = (not getattr(info, "exists", True) and getattr(info, "file_okay", False)
                  and getattr(info, "dir_okay", False) and not getattr(info, "writable", True)
                  and not getattr(info, "resolve_path", True)
                  and not getattr(info, "allow_dash", True)
                  and getattr(info, "path_type", None) is None)
    if isinstance(annotation, type) and issubclass(annotation, Path) and plain_path:
        return _path(annotation)
    return None


def _converter(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (Any,)
        leaf = _leaf(item, info)
        if leaf is None:
            return None
        return lambda value: [leaf(v) for v in value] if isinstance(value, (list, tuple)) \
            else _unhandled()
    return _leaf(annotation, info)


def _unhandled() -> Any:
    raise _Unhandled


def prepare(command: Any) -> None:
    """Give ``command``'s parameters (and its subcommands') the direct converters."""
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # a typer that converts without pydantic
        return

    class Direct(RuntimeParam):  # typer's is a frozen dataclass: no fields added
        def __init__(self, *, convert: Callable[[Any], Any], param: Any) -> None:
            super().__init__(parameter_info=param.type_descriptor.parameter_info,
                             annotation=param.type_descriptor.annotation)
            object.__setattr__(self, "convert", convert)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value)  # type: ignore[attr-defined]
            except _Unhandled:
                typer_own = build_runtime_param(param.type_descriptor)
                return typer_own._coerce_value(value, param=param, ctx=ctx)

    def give(params: Any) -> None:
        for param in params:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is None or getattr(param, "_runtime_param", False) is not None:
                continue
            convert = _converter(descriptor.annotation, descriptor.parameter_info)
            if convert is not None:
                param._runtime_param = Direct(convert=convert, param=param)

    def with_prepared(get_params: Callable[[Any], Any]) -> Callable[[Any], Any]:
        # --help and the completion options are made when parsing starts: catch them too.
        def wrapped(ctx: Any) -> Any:
            params = get_params(ctx)
            give(params)
            return params

        return wrapped

    pending = [command]
    while pending:
        current = pending.pop()
        pending.extend(getattr(current, "commands", {}).values())
        if hasattr(current, "get_params"):
            current.get_params = with_prepared(current.get_params)
