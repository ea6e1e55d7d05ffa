"""Stage 1: read one YAML file into plain data plus a ``SourceMap``.

We compose YAML *nodes* (libyaml's C parser when available) and build plain
``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` ourselves, so that
every value gets the position of its node. Scalars are resolved with the
YAML 1.2 core schema, as compose (go-yaml) does: ``yes``/``on`` stay strings.
Numbers follow go-yaml v3 (what compose reads with), which keeps YAML 1.1 habits
there: underscores are ignored (``1_000``), ``0x1f``/``0o17``/``0b101`` take their
base, and a leading zero means octal (``0440`` is 288, ``010`` is 8; ``09`` is
not octal and falls through to the float 9.0).

Handled here, because they are YAML-level: anchors and aliases (each alias is
built afresh, so later stages may mutate freely), merge keys (``<<: *base``
and ``<<: [*a, *b]``; explicit keys win, earlier merged mappings win over later
ones), duplicate keys (an error naming both places), and the compose tags
``!reset`` / ``!override``. Those two are carried to ``merge.py`` as markers
inside the data: ``RESET`` in place of the value, ``Override(value)`` around it.
Every merge strips them, so the loader's output is plain.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from orchestrator.errors import ConfigError, FileNotFoundStackError, Location
from orchestrator.loader import inputs
from orchestrator.loader.markers import RESET, Override
from orchestrator.loader.source import SourceMap
from orchestrator.loader.yamlerrors import yaml_error

log = logging.getLogger(__name__)

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAG = "tag:stack,2026:plain"  # an unquoted scalar, resolved later by the core schema


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Composes nodes only; plain scalars get one tag so we resolve them by YAML 1.2 rules."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _MERGE_TAG if value == "<<" else _PLAIN_TAG
        return str(super().resolve(kind, value, implicit))


# Guards against alias bombs ("billion laughs") and against nesting deep enough to exhaust
# Python's stack in the recursive stages after us: no real stack file comes close to either.
MAX_NODES: Final = 2_000_000
MAX_DEPTH: Final = 100




@dataclass(frozen=True, slots=True, kw_only=True)
class YamlDocument:
    data: dict[str, Any]
    sources: SourceMap
    file: str


_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# digits allowed after each base prefix (Go's strconv.ParseInt with base 0, which go-yaml uses)
_DIGITS: Final = {2: re.compile(r"^[01]+$"), 8: re.compile(r"^[0-7]+$"),
                  10: re.compile(r"^[0-9]+$"), 16: re.compile(r"^[0-9a-fA-F]+$")}
_PREFIX_BASE: Final = {"x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2}
_INT64_MIN: Final = -(1 << 63)
_UINT64_MAX: Final = (1 << 64) - 1
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_PLAIN_TAGS = frozenset({
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float", _STR_TAG, "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map", _MERGE_TAG, _PLAIN_TAG,
})


def read_yaml_file(path: Path, *, display: str | None = None) -> YamlDocument:
    """Read and parse ``path``; ``display`` is the name used in positions (default: the path)."""
    name = display if display is not None else str(path)
    try:
        text = inputs.read_text(path)
    except FileNotFoundError as exc:
        raise FileNotFoundStackError(f"stack file {name} not found") from exc
    except IsADirectoryError as exc:
        raise FileNotFoundStackError(f"stack file {name} is a directory") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"stack file {name} is not valid UTF-8: {exc.reason}") from exc
    except OSError as exc:
        raise FileNotFoundStackError(f"cannot read stack file {name}: {exc.strerror}") from exc
    return read_yaml(text, file=name)


def read_yaml(text: str, *, file: str) -> YamlDocument:
    """Parse one YAML document. Pure: no I/O."""
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            if exc.context == "expected a single document in the stream":
                raise ConfigError(
                    "the stack file holds more than one YAML document",
                    location=_location(file, mark) if mark is not None else None,
                    hint="keep one document per file; pass several files with -f to merge them",
                ) from exc
            raise yaml_error(exc, text=text, file=file) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML: {exc}", location=Location(file=file, line=1, column=1)) from exc
    finally:
        loader.dispose()
    if root is None:
        raise ConfigError("the stack file is empty", location=Location(file=file, line=1, column=1),
                          hint="a stack file needs at least a top-level `services:` mapping")
    sources = SourceMap()
    builder = _Builder(file=file, sources=sources)
    data = builder.build(root, ())
    if isinstance(data, Override):
        data = data.value
    if not isinstance(data, dict):
        raise ConfigError("top-level object must be a mapping",
                          location=_location(file, root.start_mark),
                          detail=f"found a {_kind(root)}")
    return YamlDocument(data=data, sources=sources, file=file)


def _location(file: str, mark: Any) -> Location:
    return Location(file=file, line=mark.line + 1, column=mark.column + 1)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "sequence"
    return "scalar"


class _Builder:
    """Turns a node graph into plain data, recording every node's position."""

    __slots__ = ("active", "count", "file", "sources")

    def __init__(self, *, file: str, sources: SourceMap) -> None:
        self.file = file
        self.sources = sources
        self.active: set[int] = set()  # ids of container nodes being built: an alias to one is a loop
        self.count = 0

    def build(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ConfigError("the document is too large once its aliases are expanded",
                              location=_location(self.file, node.start_mark))
        if len(path) > MAX_DEPTH:
            raise ConfigError(f"the document is nested more than {MAX_DEPTH} levels deep",
                              location=_location(self.file, node.start_mark))
        self.sources.positions[path] = _location(self.file, node.start_mark)
        tag = node.tag
        if tag == "!reset":
            return RESET
        if tag == "!override":
            return Override(self._untagged(node, path))
        if tag not in _PLAIN_TAGS:
            raise ConfigError(f"unsupported YAML tag {tag}", path=path,
                              location=_location(self.file, node.start_mark),
                              hint="only !reset and !override are understood")
        return self._untagged(node, path)

    def _untagged(self, node: yaml.Node, path: tuple[str | int, ...]) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        key = id(node)
        if key in self.active:
            raise ConfigError("recursive alias: a node contains an alias to itself", path=path,
                              location=_location(self.file, node.start_mark))
        self.active.add(key)
        try:
            if isinstance(node, yaml.SequenceNode):
                out: list[Any] = []
                for item in node.value:
                    value = self.build(item, (*path, len(out)))
                    out.append(value)
                return out
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self.active.discard(key)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        value: str = node.value
        if node.tag == _STR_TAG or node.style:  # explicitly a string, or quoted
            return value
        return _plain_scalar(value)

    def _mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pairs = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # merged mappings first, so explicit keys (built after) win, values and positions;
                # among merged mappings the earlier one wins
                for mapping in reversed(self._merge_sources(value_node, path)):
                    out.update(mapping)
            else:
                pairs.append((key_node, value_node))
        seen: dict[str, Location] = {}
        for key_node, value_node in pairs:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError("mapping keys must be scalars", path=path,
                                  location=_location(self.file, key_node.start_mark))
            key = _key_text(self._scalar(key_node))
            here = _location(self.file, key_node.start_mark)
            first = seen.get(key)
            if first is not None:
                raise ConfigError(f'mapping key "{key}" already defined at {first}',
                                  location=here, path=(*path, key),
                                  hint="a key may appear once in a mapping: keep one of them")
            seen[key] = here
            out[key] = self.build(value_node, (*path, key))
            # a mapping entry is located at its key, the place a reader looks for it
            self.sources.positions[(*path, key)] = here
        return out

    def _merge_sources(self, node: yaml.Node, path: tuple[str | int, ...]) -> list[dict[str, Any]]:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result = []
        for item in nodes:
            if not isinstance(item, yaml.MappingNode):
                raise ConfigError("the merge key << needs a mapping or a list of mappings",
                                  path=path, location=_location(self.file, item.start_mark))
            result.append(self._untagged(item, path))
        return result


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _plain_scalar(value: str) -> Any:
    """Resolve an unquoted scalar by the YAML 1.2 core schema."""
    if not value:
        return None
    first = value[0]
    if first in "~nN" and _NULL.match(value):
        return None
    if first in "tTfF" and value in _BOOL:
        return _BOOL[value]
    if first in "0123456789+-.":
        plain = value.replace("_", "")  # go-yaml drops every underscore before parsing a number
        number = _go_int(plain)
        if number is not None:
            return number
        if _FLOAT.match(plain):
            lowered = plain.lower()
            if lowered.endswith(".nan"):
                return math.nan
            if lowered.endswith(".inf"):
                return -math.inf if plain.startswith("-") else math.inf
            return float(plain)
    return value


def _go_int(text: str) -> int | None:
    """``text`` as Go's ``strconv.ParseInt(text, 0, 64)`` (or ParseUint) reads it, else None."""
    sign = 1
    digits = text
    if digits[:1] in ("+", "-"):
        sign = -1 if digits[0] == "-" else 1
        digits = digits[1:]
    base = 10
    if len(digits) > 1 and digits[0] == "0":
        base = _PREFIX_BASE.get(digits[1], 8)
        digits = digits[2:] if digits[1] in _PREFIX_BASE else digits[1:]
    if not _DIGITS[base].match(digits):
        return None
    number = sign * int(digits, base)
    if not _INT64_MIN <= number <= _UINT64_MAX:
        return None  # out of Go's range: go-yaml tries a float next
    return number
