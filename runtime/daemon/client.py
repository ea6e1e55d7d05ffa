"""``HttpEngine``: the ``runtime.api.Engine`` (and ``SystemApi``) spoken to stackd over HTTP.

Light on purpose (the standard library only, see ``connection``): the CLI imports
it on every run. Requests are built from the route table
(``runtime.daemon.routes``); error bodies come back as the engine's own
categories via ``runtime.errors.from_category``; a daemon that cannot be reached
is ``Unavailable``. Thread-safe (a pool of kept-alive connections), so the
orchestrator may call it from parallel workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from runtime.daemon.connection import PING_PATH, Pool, Response, TransportError
from runtime.daemon.tls import Address, TlsFiles, parse_address
from runtime.errors import EngineError, Failed, NotFound, Unavailable, from_category

# The route table and the codec bring in the API's types (the costliest import of a
# CLI run): they are imported at the first call that needs them, so that what needs
# none (ping, the plan memo's replay) stays cheap.
if TYPE_CHECKING:
    from runtime import api
    from runtime.daemon.exec_attach import AttachSession
    from runtime.daemon.exec_stream import ExecChunk
    from runtime.daemon.routes import Route
    from runtime.daemon.system import DiskUsage, PruneReport, SystemInfo, VersionInfo

log = logging.getLogger(__name__)

# Engine calls can take long (stop timeouts, pulls, wait): only connecting is bounded.
CONNECT_TIMEOUT = 5.0
PING_TIMEOUT = 2.0
# A recorded "not found" (its message left out: callers only see the category). A plan
# made while an object was missing is another plan once it is there.
NOT_FOUND = b'{"$not_found":true}'


class HttpEngine:
    def __init__(self, address: Address | str, *, tls: TlsFiles | None = None,
                 token: str | None = None, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = parse_address(address) if isinstance(address, str) else address
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        context = None
        if self.address.scheme == "tcp":
            from runtime.daemon.tls import client_context

            context = client_context(tls or TlsFiles())
        self._pool = Pool(self.address, tls=context, headers=headers,
                          connect_timeout=connect_timeout)
        self._recorder: tuple[int, list[tuple[str, str, bytes | None, bytes]]] | None = None

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> HttpEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------

    def ping(self) -> bool:
        """True when the daemon answers (never raises)."""
        try:
            response = self._pool.request("GET", PING_PATH, timeout=PING_TIMEOUT)
            response.read()
        except TransportError:
            return False
        return response.status_code == 200

    def _target(self, route: Route, kwargs: Mapping[str, Any]) -> str:
        """The path with its path parameters, and the query string (GET and DELETE)."""
        path = route.path
        for name in route.path_names:
            path = path.replace("{" + name + "}", quote(str(kwargs[name]), safe=""))
        params: list[tuple[str, str]] = []
        for p in route.params:
            if p.where == "query" and p.name in kwargs:
                params += [(p.name, v) for v in _routes().query_encode(p.type, kwargs[p.name])]
        if params:
            path += "?" + urlencode(params, quote_via=quote)
        return path

    def _request(self, route: Route, kwargs: Mapping[str, Any]) -> tuple[str, bytes | None]:
        """The target (path and query) and the JSON body of a call."""
        from runtime.daemon import codec

        body = {p.name: codec.encode(kwargs[p.name]) for p in route.params
                if p.where == "body" and p.name in kwargs}
        content = json.dumps(body).encode() if route.method == "POST" else None
        return self._target(route, kwargs), content

    def _send(self, route: Route, kwargs: Mapping[str, Any]) -> Response:
        return self._send_raw(route.method, *self._request(route, kwargs))

    def _send_raw(self, method: str, target: str, content: bytes | None) -> Response:
        headers = {"Content-Type": "application/json"} if content is not None else {}
        try:
            response = self._pool.request(method, target, body=content, headers=headers)
            if response.status_code >= 400:
                raise _error(response)
        except TransportError as exc:
            raise Unavailable(f"stackd at {self.address}: cannot connect: {exc}") from exc
        return response

    def _read(self, response: Response) -> bytes:
        try:
            return response.read()
        except TransportError as exc:
            raise Unavailable(f"stackd at {self.address}: answer broken: {exc}") from exc

    def _call(self, name: str, /, **kwargs: Any) -> Any:
        route = _routes().BY_NAME[name]
        target, content = self._request(route, kwargs)
        try:
            response = self._send_raw(route.method, target, content)
        except NotFound:  # an answer too: observe reads it as "there is none"
            self._note(route.method, target, content, NOT_FOUND)
            raise
        data = self._read(response)
        if response.status_code == 204:
            return None
        self._note(route.method, target, content, data)
        from runtime.daemon import codec

        return codec.decode(route.return_type, json.loads(data))

    # --- recording and replaying (orchestrator.plancache) ------------------------------

    def _note(self, method: str, target: str, content: bytes | None, answer: bytes) -> None:
        recorder = self._recorder
        if recorder is not None and recorder[0] == threading.get_ident():
            recorder[1].append((method, target, content, answer))

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[tuple[str, str, bytes | None, bytes]]]:
        """The calls this thread makes while the block runs: method, target, body and the
        answer's bytes (calls with a JSON answer, and ``NOT_FOUND`` for a "not found")."""
        calls: list[tuple[str, str, bytes | None, bytes]] = []
        self._recorder = (threading.get_ident(), calls)
        try:
            yield calls
        finally:
            self._recorder = None

    def exchange(self, method: str, target: str, body: bytes | None) -> bytes | None:
        """One recorded request sent again: the answer's bytes (``NOT_FOUND`` as recorded
        for one), None when it is not a JSON answer (another error category raises, as any
        call's would)."""
        try:
            response = self._send_raw(method, target, body)
        except NotFound:
            return NOT_FOUND
        data = self._read(response)
        return data if response.status_code == 200 else None

    def _items(self, name: str, /, **kwargs: Any) -> Iterator[Any]:
        """Send now (so an error raises here), then yield the lines lazily."""
        route = _routes().BY_NAME[name]
        response = self._send(route, kwargs)
        return self._lines(route, response)

    def _lines(self, route: Route, response: Response) -> Iterator[Any]:
        from runtime.daemon import codec

        try:
            for data in _json_lines(response):
                if isinstance(data, dict) and set(data) == {"error"}:
                    raise _error_from(data["error"])
                yield codec.decode(route.item_type, data)
        finally:
            response.close()

    def _progress(self, name: str, progress: Callable[[Any], None] | None, /, **kwargs: Any) -> Any:
        from runtime.daemon import codec

        route = _routes().BY_NAME[name]
        response = self._send(route, kwargs)
        try:
            for data in _json_lines(response):
                if "progress" in data:
                    if progress is not None:
                        progress(codec.decode(route.progress_type, data["progress"]))
                elif "result" in data:
                    return codec.decode(route.return_type, data["result"])
                elif "error" in data:
                    raise _error_from(data["error"])
        finally:
            response.close()
        raise Unavailable(f"stackd at {self.address}: {name} ended without a result")

    # --- images ----------------------------------------------------------------------

    def image_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.ImageInfo]:
        return self._call("image_list", labels=labels)  # type: ignore[no-any-return]

    def image_inspect(self, ref: str) -> api.ImageInfo:
        return self._call("image_inspect", ref=ref)  # type: ignore[no-any-return]

    def image_pull(self, ref: str, *, progress: api.ProgressFn | None = None) -> api.ImageInfo:
        return self._progress("image_pull", progress, ref=ref)  # type: ignore[no-any-return]

    def image_push(self, ref: str, *, progress: api.ProgressFn | None = None) -> None:
        self._progress("image_push", progress, ref=ref)

    def image_tag(self, source: str, target: str) -> None:
        self._call("image_tag", source=source, target=target)

    def image_remove(self, ref: str, *, force: bool = False) -> list[str]:
        return self._call("image_remove", ref=ref, force=force)  # type: ignore[no-any-return]

    def image_build(self, context: str, *, dockerfile: str | None = None,
                    dockerfile_text: str | None = None,
                    build_args: Mapping[str, str] | None = None, target: str = "",
                    labels: Mapping[str, str] | None = None, tags: Sequence[str] = (),
                    no_cache: bool = False, pull: bool = False, network: str = "host",
                    progress: api.BuildProgressFn | None = None) -> api.ImageInfo:
        return self._progress(  # type: ignore[no-any-return]
            "image_build", progress, context=context, dockerfile=dockerfile,
            dockerfile_text=dockerfile_text, build_args=build_args, target=target,
            labels=labels, tags=list(tags), no_cache=no_cache, pull=pull, network=network)

    def image_history(self, ref: str) -> list[api.ImageHistoryEntry]:
        return self._call("image_history", ref=ref)  # type: ignore[no-any-return]

    def image_import(self, path: str, *, ref: str | None = None) -> list[api.ImageInfo]:
        return self._call("image_import", path=path, ref=ref)  # type: ignore[no-any-return]

    def image_load(self, path: str) -> list[api.ImageInfo]:
        return self._call("image_load", path=path)  # type: ignore[no-any-return]

    def image_save(self, refs: Sequence[str], dest: str, *,
                   format: api.ImageArchiveFormat = "docker") -> None:
        self._call("image_save", refs=list(refs), dest=dest, format=format)

    def image_prune(self, *, all: bool = False) -> list[str]:
        return self._call("image_prune", all=all)  # type: ignore[no-any-return]

    def image_login(self, registry: str, *, username: str, password: str) -> str:
        return self._call("image_login", registry=registry,  # type: ignore[no-any-return]
                          username=username, password=password)

    def image_logout(self, registry: str) -> bool:
        return self._call("image_logout", registry=registry)  # type: ignore[no-any-return]

    # --- containers ------------------------------------------------------------------

    def container_create(self, config: api.ContainerConfig) -> api.ContainerInfo:
        return self._call("container_create", config=config)  # type: ignore[no-any-return]

    def container_start(self, ref: str) -> None:
        self._call("container_start", ref=ref)

    def container_stop(self, ref: str, *, signal: str | None = None,
                       timeout: float | None = None) -> None:
        self._call("container_stop", ref=ref, signal=signal, timeout=timeout)

    def container_restart(self, ref: str, *, timeout: float | None = None) -> None:
        self._call("container_restart", ref=ref, timeout=timeout)

    def container_kill(self, ref: str, *, signal: str = "KILL") -> None:
        self._call("container_kill", ref=ref, signal=signal)

    def container_pause(self, ref: str) -> None:
        self._call("container_pause", ref=ref)

    def container_unpause(self, ref: str) -> None:
        self._call("container_unpause", ref=ref)

    def container_remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        self._call("container_remove", ref=ref, force=force, volumes=volumes)

    def container_inspect(self, ref: str) -> api.ContainerInfo:
        return self._call("container_inspect", ref=ref)  # type: ignore[no-any-return]

    def container_list(self, *, all: bool = False,
                       labels: Mapping[str, str] | None = None) -> list[api.ContainerInfo]:
        return self._call("container_list", all=all, labels=labels)  # type: ignore[no-any-return]

    def container_logs(self, ref: str, *, follow: bool = False, since: float | None = None,
                       tail: int | None = None) -> Iterator[api.LogEntry]:
        return self._items("container_logs", ref=ref, follow=follow, since=since, tail=tail)

    def container_exec(self, ref: str, cmd: Sequence[str], *,
                       env: Mapping[str, str] | None = None, user: str | None = None,
                       workdir: str | None = None, stdin: bytes | None = None) -> api.ExecResult:
        return self._call("container_exec", ref=ref, cmd=list(cmd),  # type: ignore[no-any-return]
                          env=env, user=user, workdir=workdir, stdin=stdin)

    def container_exec_stream(self, ref: str, cmd: Sequence[str], *,
                              env: Mapping[str, str] | None = None, user: str | None = None,
                              workdir: str | None = None,
                              stdin: bytes | None = None) -> Iterator[ExecChunk]:
        return self._items("container_exec_stream", ref=ref, cmd=list(cmd), env=env,
                           user=user, workdir=workdir, stdin=stdin)

    def container_exec_attach(self, ref: str, cmd: Sequence[str], *,
                              env: Mapping[str, str] | None = None, user: str | None = None,
                              workdir: str | None = None, tty: bool = False,
                              rows: int = 0, cols: int = 0) -> AttachSession:
        """The command running, its stdin, output and terminal relayed over a WebSocket."""
        return self._upgrade("container_exec_attach", ref=ref, cmd=list(cmd), env=env,
                             user=user, workdir=workdir, tty=tty, rows=rows, cols=cols)

    def container_attach(self, ref: str, *, stdin: bool = False, rows: int = 0,
                         cols: int = 0) -> AttachSession:
        """The container's main process: its output (from now on), stdin and terminal
        relayed over a WebSocket; attach before ``container_start`` to miss nothing."""
        return self._upgrade("container_attach", ref=ref, stdin=stdin, rows=rows, cols=cols)

    def _upgrade(self, name: str, /, **kwargs: Any) -> AttachSession:
        """An attach route's WebSocket (an error answer raises as the engine's error)."""
        from runtime.daemon.websocket import WsSession, handshake_key

        target = self._target(_routes().BY_NAME[name], kwargs)
        headers = {"Connection": "Upgrade", "Upgrade": "websocket",
                   "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": handshake_key()}
        try:
            answer, sock, rfile = self._pool.upgrade(target, headers)
            if answer is not None:
                raise _error(answer)
        except TransportError as exc:
            raise Unavailable(f"stackd at {self.address}: cannot connect: {exc}") from exc
        return WsSession(sock, rfile)

    def container_wait(self, ref: str, *, timeout: float | None = None) -> int:
        return self._call("container_wait", ref=ref, timeout=timeout)  # type: ignore[no-any-return]

    def container_stats(self, ref: str) -> api.ContainerStats:
        return self._call("container_stats", ref=ref)  # type: ignore[no-any-return]

    def container_top(self, ref: str) -> list[api.ProcessInfo]:
        return self._call("container_top", ref=ref)  # type: ignore[no-any-return]

    # --- networks --------------------------------------------------------------------

    def network_create(self, config: api.NetworkConfig) -> api.NetworkInfo:
        return self._call("network_create", config=config)  # type: ignore[no-any-return]

    def network_remove(self, ref: str) -> None:
        self._call("network_remove", ref=ref)

    def network_inspect(self, ref: str) -> api.NetworkInfo:
        return self._call("network_inspect", ref=ref)  # type: ignore[no-any-return]

    def network_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.NetworkInfo]:
        return self._call("network_list", labels=labels)  # type: ignore[no-any-return]

    def network_connect(self, ref: str, container: str, endpoint: api.EndpointConfig) -> None:
        self._call("network_connect", ref=ref, container=container, endpoint=endpoint)

    def network_disconnect(self, ref: str, container: str) -> None:
        self._call("network_disconnect", ref=ref, container=container)

    # --- volumes ---------------------------------------------------------------------

    def volume_create(self, config: api.VolumeConfig) -> api.VolumeInfo:
        return self._call("volume_create", config=config)  # type: ignore[no-any-return]

    def volume_remove(self, name: str, *, force: bool = False) -> None:
        self._call("volume_remove", name=name, force=force)

    def volume_inspect(self, name: str) -> api.VolumeInfo:
        return self._call("volume_inspect", name=name)  # type: ignore[no-any-return]

    def volume_list(self, *, labels: Mapping[str, str] | None = None) -> list[api.VolumeInfo]:
        return self._call("volume_list", labels=labels)  # type: ignore[no-any-return]

    # --- events ----------------------------------------------------------------------

    def events(self, *, since: float | None = None, until: float | None = None,
               filters: Mapping[str, str] | None = None) -> Iterator[api.Event]:
        return self._items("events", since=since, until=until, filters=filters)

    # --- system ----------------------------------------------------------------------

    def version(self) -> VersionInfo:
        return self._call("version")  # type: ignore[no-any-return]

    def system_info(self) -> SystemInfo:
        return self._call("system_info")  # type: ignore[no-any-return]

    def system_df(self) -> DiskUsage:
        return self._call("system_df")  # type: ignore[no-any-return]

    def system_prune(self, *, all: bool = False, volumes: bool = False) -> PruneReport:
        return self._call("system_prune", all=all, volumes=volumes)  # type: ignore[no-any-return]


def _routes() -> types.ModuleType:
    from runtime.daemon import routes

    return routes


def _json_lines(response: Response) -> Iterator[Any]:
    try:
        for text in response.iter_lines():
            if text.strip():
                yield json.loads(text)
    except TransportError as exc:
        raise Unavailable(f"stackd: stream broken: {exc}") from exc
    except ValueError as exc:
        raise Failed(f"stackd: stream sent a line that is not JSON: {exc}") from exc


def _error_from(data: Any) -> EngineError:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return from_category(str(data.get("category", "failed")), data["message"])
    return Failed(f"stackd: malformed error: {data!r}")


def _error(response: Response) -> EngineError:
    """The engine error an error answer carries (reads and releases it)."""
    body = response.read()
    try:
        data = json.loads(body)
    except ValueError:
        return Failed(f"stackd answered {response.status_code}: "
                      f"{body[:200].decode(errors='replace')}")
    return _error_from(data)
