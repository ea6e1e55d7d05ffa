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
from collections.abc import Callable
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
    names = _field_names(type(value))
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, collections.abc.Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The fields of a dataclass type (None for other types), looked up once per type."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = (tuple(f.name for f in dataclasses.fields(cls))
                 if dataclasses.is_dataclass(cls) else None)
        _FIELD_NAMES[cls] = names
        return names


def decode(tp: Any, data: JsonValue, *, path: str = "$") -> Any:
    """``data`` as a value of type ``tp``; ``InvalidArgument`` names the path when it does not fit."""
    return _decoder_of(tp)(data, path)


# A decoder per type, made once from the type hints: a listing of thirty containers
# decodes thousands of values, and dispatching on the type for each one cost more than
# the decoding itself.
_Decoder = Callable[[JsonValue, str], Any]


def _decoder_of(tp: Any) -> _Decoder:
    # The arguments are in the cache key: unions compare equal in any order
    # (``int | float == float | int``), and a union decodes in its own order.
    return _decoder(tp, typing.get_args(tp))


@functools.cache
def _decoder(tp: Any, args: tuple[Any, ...]) -> _Decoder:
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return lambda data, path: data
    if tp is None or tp is type(None):
        return _null
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(args)
    if origin is typing.Literal:
        return _literal_decoder(args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_decoder(tp)
    simple = {bool: _bool, int: _int, float: _float, str: _str, bytes: _bytes}
    if tp in simple:
        return simple[tp]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if origin is tuple:
        return _tuple_decoder(args)
    if origin in (list, collections.abc.Sequence):
        item = _decoder_of(args[0])

        def decode_list(data: JsonValue, path: str) -> Any:
            if not isinstance(data, list):
                raise _mismatch(path, "array", data)
            return [item(v, f"{path}[{i}]") for i, v in enumerate(data)]
        return decode_list
    if origin in (dict, collections.abc.Mapping):
        value = _decoder_of(args[1])

        def decode_mapping(data: JsonValue, path: str) -> Any:
            if not isinstance(data, dict):
                raise _mismatch(path, "object", data)
            return {k: value(v, f"{path}.{k}") for k, v in data.items()}
        return decode_mapping

    def cannot(data: JsonValue, path: str) -> Any:
        raise TypeError(f"{path}: cannot decode into {tp!r}")
    return cannot


def _null(data: JsonValue, path: str) -> None:
    if data is not None:
        raise _mismatch(path, "null", data)


def _bool(data: JsonValue, path: str) -> bool:
    if not isinstance(data, bool):
        raise _mismatch(path, "boolean", data)
    return data


def _int(data: JsonValue, path: str) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise _mismatch(path, "integer", data)
    return data


def _float(data: JsonValue, path: str) -> float:
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise _mismatch(path, "number", data)
    return float(data)


def _str(data: JsonValue, path: str) -> str:
    if not isinstance(data, str):
        raise _mismatch(path, "string", data)
    return data


def _bytes(data: JsonValue, path: str) -> bytes:
    if not isinstance(data, str):
        raise _mismatch(path, "base64 string", data)
    try:
        return base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidArgument(f"{path}: not valid base64") from exc


def _literal_decoder(args: tuple[Any, ...]) -> _Decoder:
    any_bool = any(isinstance(a, bool) for a in args)

    def decode_literal(data: JsonValue, path: str) -> Any:
        if data not in args or isinstance(data, bool) != any_bool:
            choices = ", ".join(repr(a) for a in args)
            raise InvalidArgument(f"{path}: {data!r} is not one of {choices}")
        return data
    return decode_literal


def _enum_decoder(tp: type[enum.Enum]) -> _Decoder:
    def decode_enum(data: JsonValue, path: str) -> Any:
        try:
            return tp(data)
        except ValueError as exc:
            choices = ", ".join(repr(m.value) for m in tp)
            raise InvalidArgument(f"{path}: {data!r} is not one of {choices}") from exc
    return decode_enum


def _tuple_decoder(args: tuple[Any, ...]) -> _Decoder:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _decoder_of(args[0])

        def decode_tuple(data: JsonValue, path: str) -> Any:
            if not isinstance(data, list):
                raise _mismatch(path, "array", data)
            return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(data))
        return decode_tuple
    items = [_decoder_of(a) for a in args]

    def decode_fixed(data: JsonValue, path: str) -> Any:
        if not isinstance(data, list):
            raise _mismatch(path, "array", data)
        if len(data) != len(items):
            raise InvalidArgument(f"{path}: expected an array of {len(items)} items, "
                                  f"got {len(data)}")
        return tuple(d(v, f"{path}[{i}]") for i, (d, v) in enumerate(zip(items, data, strict=True)))
    return decode_fixed


def _union_decoder(args: tuple[Any, ...]) -> _Decoder:
    nullable = type(None) in args
    candidates = [_decoder_of(a) for a in args if a is not type(None)]

    def decode_union(data: JsonValue, path: str) -> Any:
        if data is None and nullable:
            return None
        last: InvalidArgument | None = None
        for candidate in candidates:
            try:
                return candidate(data, path)
            except InvalidArgument as exc:
                last = exc
        if len(candidates) == 1 and last is not None:
            raise last
        raise InvalidArgument(f"{path}: {_kind(data)} does not fit any of the allowed types")
    return decode_union


def _dataclass_decoder(tp: type) -> _Decoder:
    fields = dataclasses.fields(tp)
    names = frozenset(f.name for f in fields)
    # (name, decoder, required); made on first use, so that a type may refer to itself,
    # and assigned whole, so that a thread never sees half of it
    plan: tuple[tuple[str, _Decoder, bool], ...] = ()

    def decode_dataclass(data: JsonValue, path: str) -> Any:
        nonlocal plan
        if not isinstance(data, dict):
            raise _mismatch(path, f"{tp.__name__} object", data)
        if not plan:
            hints = type_hints(tp)
            plan = tuple((f.name, _decoder_of(hints[f.name]),
                          f.default is dataclasses.MISSING
                          and f.default_factory is dataclasses.MISSING) for f in fields)
        if not names.issuperset(data):
            unknown = sorted(set(data) - names)
            raise InvalidArgument(f"{path}: unknown field(s) {', '.join(unknown)} for "
                                  f"{tp.__name__}")
        kwargs: dict[str, Any] = {}
        for name, decoder, required in plan:
            if name in data:
                kwargs[name] = decoder(data[name], f"{path}.{name}")
            elif required:
                raise InvalidArgument(f"{path}: missing required field {name} of {tp.__name__}")
        try:
            return tp(**kwargs)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{path}: {exc}") from exc
    return decode_dataclass


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
