"""Typed values <-> JSON, driven by type hints; used by stackd and its client alike.

``encode`` turns a value of an API type (frozen dataclasses, enums, tuples,
mappings, bytes, scalars) into plain JSON data; ``decode`` does the reverse for
a given type and raises ``InvalidArgument`` naming the offending path when the
data does not fit. ``json_schema`` describes a type as JSON Schema (2020-12,
as OpenAPI 3.1 uses), so the OpenAPI document and the wire format come from
one place.

Wire conventions (invariants both sides rely on):
    dataclass -> object of its fields (unknown keys rejected; missing keys take defaults)
    enum / Literal -> its string value
    tuple[X, ...] / list[X] / Sequence[X] -> array; tuple[X, Y] -> fixed-length array
    Mapping[str, X] -> object
    bytes -> base64 string
    float accepts JSON integers too
"""

from __future__ import annotations

import base64
import binascii
import collections.abc
import dataclasses
import enum
import functools
import types
import typing
from typing import Any

from runtime.errors import InvalidArgument

JsonValue = Any  # what json.dumps takes: dict / list / str / int / float / bool / None


def encode(value: object) -> JsonValue:
    """Plain JSON data for an API value (pure)."""
    if value is None or isinstance(value, bool | int | float | str):
        if isinstance(value, enum.Enum):
            return value.value
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, collections.abc.Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decode(tp: Any, data: JsonValue, *, path: str = "$") -> Any:
    """``data`` as a value of type ``tp``; ``InvalidArgument`` names the path when it does not fit."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return data
    if tp is None or tp is type(None):
        if data is not None:
            raise _mismatch(path, "null", data)
        return None
    if origin in (typing.Union, types.UnionType):
        return _decode_union(args, data, path)
    if origin is typing.Literal:
        if data not in args or isinstance(data, bool) != any(isinstance(a, bool) for a in args):
            choices = ", ".join(repr(a) for a in args)
            raise InvalidArgument(f"{path}: {data!r} is not one of {choices}")
        return data
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError as exc:
            choices = ", ".join(repr(m.value) for m in tp)
            raise InvalidArgument(f"{path}: {data!r} is not one of {choices}") from exc
    if tp is bool:
        if not isinstance(data, bool):
            raise _mismatch(path, "boolean", data)
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise _mismatch(path, "integer", data)
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise _mismatch(path, "number", data)
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise _mismatch(path, "string", data)
        return data
    if tp is bytes:
        if not isinstance(data, str):
            raise _mismatch(path, "base64 string", data)
        try:
            return base64.b64decode(data.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise InvalidArgument(f"{path}: not valid base64") from exc
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, path)
    if origin is tuple:
        if not isinstance(data, list):
            raise _mismatch(path, "array", data)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v, path=f"{path}[{i}]") for i, v in enumerate(data))
        if len(data) != len(args):
            raise InvalidArgument(f"{path}: expected an array of {len(args)} items, got {len(data)}")
        return tuple(decode(a, v, path=f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin in (list, collections.abc.Sequence):
        if not isinstance(data, list):
            raise _mismatch(path, "array", data)
        return [decode(args[0], v, path=f"{path}[{i}]") for i, v in enumerate(data)]
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(data, dict):
            raise _mismatch(path, "object", data)
        return {k: decode(args[1], v, path=f"{path}.{k}") for k, v in data.items()}
    raise TypeError(f"{path}: cannot decode into {tp!r}")


def _decode_union(args: tuple[Any, ...], data: JsonValue, path: str) -> Any:
    if data is None and type(None) in args:
        return None
    candidates = [a for a in args if a is not type(None)]
    last: InvalidArgument | None = None
    for arg in candidates:
        try:
            return decode(arg, data, path=path)
        except InvalidArgument as exc:
            last = exc
    if len(candidates) == 1 and last is not None:
        raise last
    raise InvalidArgument(f"{path}: {_kind(data)} does not fit any of the allowed types")


def _decode_dataclass(tp: type, data: JsonValue, path: str) -> Any:
    if not isinstance(data, dict):
        raise _mismatch(path, f"{tp.__name__} object", data)
    hints = type_hints(tp)
    fields = {f.name: f for f in dataclasses.fields(tp)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidArgument(f"{path}: unknown field(s) {', '.join(unknown)} for {tp.__name__}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = decode(hints[name], data[name], path=f"{path}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InvalidArgument(f"{path}: missing required field {name} of {tp.__name__}")
    try:
        return tp(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{path}: {exc}") from exc


def _kind(data: JsonValue) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(data), type(data).__name__)


def _mismatch(path: str, expected: str, data: JsonValue) -> InvalidArgument:
    return InvalidArgument(f"{path}: expected {expected}, got {_kind(data)}")


@functools.cache
def type_hints(obj: Any) -> dict[str, Any]:
    """Resolved annotations of a dataclass or function (names resolved in its own module)."""
    return typing.get_type_hints(obj)


def is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def strip_optional(tp: Any) -> Any:
    """``X | None`` -> ``X`` (other types unchanged)."""
    if not is_optional(tp):
        return tp
    rest = [a for a in typing.get_args(tp) if a is not type(None)]
    return rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007


# --- JSON Schema ---------------------------------------------------------------


def json_schema(tp: Any, *, ref_prefix: str, components: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of ``tp``; dataclasses and enums go into ``components`` by name, referenced
    as ``ref_prefix + name`` (e.g. ``#/components/schemas/``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return {}
    if tp is None or tp is type(None):
        return {"type": "null"}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema(a, ref_prefix=ref_prefix, components=components)
                          for a in args]}
    if origin is typing.Literal:
        return {"type": "string", "enum": list(args)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        components.setdefault(tp.__name__, {"type": "string", "enum": [m.value for m in tp]})
        return {"$ref": ref_prefix + tp.__name__}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is bytes:
        return {"type": "string", "contentEncoding": "base64"}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if tp.__name__ not in components:
            components[tp.__name__] = {}  # placeholder: breaks recursion
            components[tp.__name__] = _dataclass_schema(tp, ref_prefix, components)
        return {"$ref": ref_prefix + tp.__name__}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array",
                    "items": json_schema(args[0], ref_prefix=ref_prefix, components=components)}
        return {"type": "array", "minItems": len(args), "maxItems": len(args),
                "prefixItems": [json_schema(a, ref_prefix=ref_prefix, components=components)
                                for a in args]}
    if origin in (list, collections.abc.Sequence):
        return {"type": "array",
                "items": json_schema(args[0], ref_prefix=ref_prefix, components=components)}
    if origin in (dict, collections.abc.Mapping):
        return {"type": "object",
                "additionalProperties": json_schema(args[1], ref_prefix=ref_prefix,
                                                    components=components)}
    raise TypeError(f"no JSON schema for {tp!r}")


def _dataclass_schema(tp: type, ref_prefix: str, components: dict[str, Any]) -> dict[str, Any]:
    hints = type_hints(tp)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(tp):
        props[f.name] = json_schema(hints[f.name], ref_prefix=ref_prefix, components=components)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    doc = (tp.__doc__ or "").strip()
    if doc and not doc.startswith(f"{tp.__name__}("):
        schema["description"] = doc.splitlines()[0]
    return schema
