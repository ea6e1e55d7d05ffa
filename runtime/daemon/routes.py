"""The one route table: HTTP method + path -> a method of the served API.

The served API is ``runtime.api.Engine`` plus stackd's extensions
(``runtime.daemon.system.SystemApi``, ``runtime.daemon.exec_stream.ExecStreamApi``,
``runtime.daemon.exec_attach.ExecAttachApi`` and ``ContainerAttachApi``).
Everything else about a route is derived from that method's signature, so the
server, the client and the OpenAPI document cannot drift apart:

- ``{name}`` segments of the path are path parameters (strings);
- a ``Callable`` parameter (``progress``) makes the route a *progress stream*:
  JSON lines ``{"progress": ...}`` then one ``{"result": ...}`` or ``{"error": ...}``;
- a return type ``Iterator[X]`` makes the route an *item stream*: JSON lines of X,
  and ``{"error": {...}}`` if it fails after the first line;
- the other parameters go in the query string for GET and DELETE (mappings as
  repeated ``key=value``, sequences as repeated values), in a JSON object body for POST;
- a return type ``AttachSession`` makes the route an *attach*: a WebSocket (GET) that
  relays stdin, output and resizes both ways (see ``runtime.daemon.exec_attach``);
- a ``None`` result is ``204 No Content``; other results are JSON with 200.

Errors before the first byte of a response are ``{"category", "message"}`` with
the status from ``runtime.errors.HTTP_STATUS``.
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from runtime import api
from runtime.daemon import codec

HttpMethod = Literal["GET", "POST", "DELETE"]


def served_protocols() -> tuple[type, ...]:
    """What stackd serves: the Engine API and its own extensions, one method per route."""
    return tuple(_served())


def _served() -> Iterator[type]:
    # The extensions are imported only when asked for: a client's call to an Engine
    # method (every CLI run makes some) never needs them.
    yield api.Engine
    from runtime.daemon.exec_attach import ContainerAttachApi, ExecAttachApi
    from runtime.daemon.exec_stream import ExecStreamApi
    from runtime.daemon.system import SystemApi

    yield from (SystemApi, ExecStreamApi, ExecAttachApi, ContainerAttachApi)
StreamKind = Literal["none", "items", "progress", "attach"]

STREAM_CONTENT_TYPE = "application/x-ndjson"


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    name: str
    type: Any  # resolved annotation
    where: Literal["path", "query", "body"]
    required: bool
    default: Any = None


@dataclass(frozen=True, kw_only=True)
class Route:
    method: HttpMethod
    path: str
    name: str  # method of Engine or SystemApi
    summary: str = ""

    @cached_property
    def function(self) -> Any:
        for owner in _served():
            if hasattr(owner, self.name):
                return getattr(owner, self.name)
        raise AttributeError(f"route {self.method} {self.path}: no API method {self.name}")

    @cached_property
    def path_names(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @cached_property
    def hints(self) -> dict[str, Any]:
        return codec.type_hints(self.function)

    @cached_property
    def params(self) -> tuple[Param, ...]:
        out = []
        for p in inspect.signature(self.function).parameters.values():
            if p.name == "self" or p.name == self.progress_param:
                continue
            where: Literal["path", "query", "body"]
            if p.name in self.path_names:
                where = "path"
            elif self.method in ("GET", "DELETE"):
                where = "query"
            else:
                where = "body"
            required = p.default is inspect.Parameter.empty
            out.append(Param(name=p.name, type=self.hints[p.name], where=where,
                             required=required, default=None if required else p.default))
        return tuple(out)

    @cached_property
    def progress_param(self) -> str | None:
        for name, tp in codec.type_hints(self.function).items():
            if typing.get_origin(codec.strip_optional(tp)) is collections.abc.Callable:
                return name
        return None

    @cached_property
    def progress_type(self) -> Any:
        """The item type the progress callback takes."""
        if self.progress_param is None:
            return None
        callable_tp = codec.strip_optional(self.hints[self.progress_param])
        return typing.get_args(callable_tp)[0][0]

    @cached_property
    def return_type(self) -> Any:
        return self.hints["return"]

    @cached_property
    def stream(self) -> StreamKind:
        if self.progress_param is not None:
            return "progress"
        from runtime.daemon.exec_attach import AttachSession

        if self.return_type is AttachSession:
            return "attach"
        if typing.get_origin(self.return_type) in (collections.abc.Iterator,
                                                   collections.abc.Iterable):
            return "items"
        return "none"

    @cached_property
    def item_type(self) -> Any:
        """For item streams, the type of one line."""
        return typing.get_args(self.return_type)[0]

    @property
    def aiohttp_path(self) -> str:
        return self.path


def _r(method: HttpMethod, path: str, name: str, summary: str) -> Route:
    return Route(method=method, path=path, name=name, summary=summary)


# Image references hold slashes and colons, so they travel in the query / body,
# never in the path. Container, network and volume refs are names or ids.
ROUTES: tuple[Route, ...] = (
    _r("GET", "/images", "image_list", "List images"),
    _r("GET", "/image", "image_inspect", "Inspect an image"),
    _r("POST", "/images/pull", "image_pull", "Pull an image (progress stream)"),
    _r("POST", "/images/push", "image_push", "Push an image (progress stream)"),
    _r("POST", "/images/tag", "image_tag", "Tag an image"),
    _r("DELETE", "/image", "image_remove", "Remove an image"),
    _r("GET", "/image/history", "image_history", "History of an image"),
    _r("POST", "/images/build", "image_build",
       "Build an image from a Dockerfile (context is a path on the daemon's host; progress stream)"),
    _r("POST", "/images/import", "image_import",
       "Import a rootfs tarball, docker-save or OCI archive (a path on the daemon's host)"),
    _r("POST", "/images/load", "image_load", "Load a docker-save or OCI archive (daemon's path)"),
    _r("POST", "/images/save", "image_save", "Save images to an archive (daemon's path)"),
    _r("POST", "/images/prune", "image_prune", "Remove dangling (or all unused) images"),
    _r("POST", "/auth/login", "image_login", "Log in to a registry"),
    _r("POST", "/auth/logout", "image_logout", "Log out of a registry"),

    _r("POST", "/containers", "container_create", "Create a container"),
    _r("GET", "/containers", "container_list", "List containers"),
    _r("GET", "/containers/{ref}", "container_inspect", "Inspect a container"),
    _r("POST", "/containers/{ref}/start", "container_start", "Start a container"),
    _r("POST", "/containers/{ref}/stop", "container_stop", "Stop a container"),
    _r("POST", "/containers/{ref}/restart", "container_restart", "Restart a container"),
    _r("POST", "/containers/{ref}/kill", "container_kill", "Send a signal to a container"),
    _r("POST", "/containers/{ref}/pause", "container_pause", "Pause a container"),
    _r("POST", "/containers/{ref}/unpause", "container_unpause", "Unpause a container"),
    _r("DELETE", "/containers/{ref}", "container_remove", "Remove a container"),
    _r("GET", "/containers/{ref}/logs", "container_logs", "Container logs (item stream)"),
    _r("POST", "/containers/{ref}/exec", "container_exec", "Run a command in a container"),
    _r("POST", "/containers/{ref}/exec/stream", "container_exec_stream",
       "Run a command in a container, its output streamed as it comes (item stream)"),
    _r("GET", "/containers/{ref}/exec/attach", "container_exec_attach",
       "Run a command in a container interactively (WebSocket: stdin, output, resize)"),
    _r("GET", "/containers/{ref}/attach", "container_attach",
       "Attach to a container's main process, before or after its start "
       "(WebSocket: stdin, output, resize)"),
    _r("POST", "/containers/{ref}/wait", "container_wait", "Wait for a container to exit"),
    _r("GET", "/containers/{ref}/stats", "container_stats", "Resource usage"),
    _r("GET", "/containers/{ref}/top", "container_top", "Processes of a container"),

    _r("POST", "/networks", "network_create", "Create a network"),
    _r("GET", "/networks", "network_list", "List networks"),
    _r("GET", "/networks/{ref}", "network_inspect", "Inspect a network"),
    _r("DELETE", "/networks/{ref}", "network_remove", "Remove a network"),
    _r("POST", "/networks/{ref}/connect", "network_connect", "Connect a container"),
    _r("POST", "/networks/{ref}/disconnect", "network_disconnect", "Disconnect a container"),

    _r("POST", "/volumes", "volume_create", "Create a volume"),
    _r("GET", "/volumes", "volume_list", "List volumes"),
    _r("GET", "/volumes/{name}", "volume_inspect", "Inspect a volume"),
    _r("DELETE", "/volumes/{name}", "volume_remove", "Remove a volume"),

    _r("GET", "/events", "events", "Engine events (item stream; follows unless until is set)"),

    _r("GET", "/version", "version", "Server version"),
    _r("GET", "/info", "system_info", "System-wide information"),
    _r("GET", "/system/df", "system_df", "Disk usage"),
    _r("POST", "/system/prune", "system_prune", "Remove unused data"),
)

BY_NAME: dict[str, Route] = {r.name: r for r in ROUTES}


# --- query strings (shared by server and client) ---------------------------------------


def query_encode(tp: Any, value: Any) -> list[str]:
    """One query parameter as the strings that go on the wire (repeated for mappings)."""
    tp = codec.strip_optional(tp)
    if value is None:
        return []
    if typing.get_origin(tp) in (dict, collections.abc.Mapping):
        return [f"{k}={v}" for k, v in value.items()]
    if typing.get_origin(tp) in (list, tuple, collections.abc.Sequence):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, float):
        return [repr(value)]
    return [str(value)]


def query_decode(tp: Any, values: list[str], *, name: str) -> Any:
    """The value of one query parameter from its wire strings (``InvalidArgument`` if bad)."""
    from runtime.errors import InvalidArgument

    base = codec.strip_optional(tp)
    origin = typing.get_origin(base)
    if origin in (dict, collections.abc.Mapping):
        out: dict[str, str] = {}
        for item in values:
            key, sep, val = item.partition("=")
            if not sep or not key:
                raise InvalidArgument(f'query parameter {name}: "{item}" is not key=value')
            out[key] = val
        return out
    if origin in (list, tuple, collections.abc.Sequence):
        return list(values)
    if len(values) != 1:
        raise InvalidArgument(f"query parameter {name}: given {len(values)} times")
    raw = values[0]
    if base is bool:
        if raw not in ("true", "false", "1", "0"):
            raise InvalidArgument(f'query parameter {name}: "{raw}" is not true or false')
        return raw in ("true", "1")
    if base is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise InvalidArgument(f'query parameter {name}: "{raw}" is not an integer') from exc
    if base is float:
        try:
            number = float(raw)
        except ValueError as exc:
            raise InvalidArgument(f'query parameter {name}: "{raw}" is not a number') from exc
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidArgument(f'query parameter {name}: "{raw}" is not a finite number')
        return number
    return codec.decode(base, raw, path=name)
