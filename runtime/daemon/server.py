"""stackd's HTTP server: the route table served over aiohttp.

``build_app(served)`` answers every route of ``runtime.daemon.routes`` by
calling the method of the same name on ``served`` (an Engine + SystemApi) in a
worker thread: the engine is synchronous and thread-safe, the event loop never
blocks on it. Listening (unix socket, TLS TCP) is ``runtime.daemon.main``'s job.

Streams (logs, events, pull/push progress) run their iterator in a thread of
their own and hand lines to the response through a bounded queue. The server
waits briefly for the first line before sending headers, so an error that
happens at once (no such container) still gets its proper status; a later
error is sent in-band as ``{"error": {"category", "message"}}``. When the
client goes away the handler is cancelled and the thread stops at its next
item; iterators may yield ``HEARTBEAT`` to get that chance while idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aiohttp import web

from runtime.daemon import codec
from runtime.daemon.connection import PING_PATH
from runtime.daemon.routes import ROUTES, STREAM_CONTENT_TYPE, Route, query_decode
from runtime.errors import HTTP_STATUS, EngineError, InvalidArgument, NotFound, Unauthorized

log = logging.getLogger(__name__)

# An iterator may yield this to let a stream notice that its client left.
HEARTBEAT: Any = object()
# How long a stream waits for its first line before sending headers anyway.
FIRST_LINE_WAIT = 0.5
MAX_BODY = 64 * 1024 * 1024
SERVED_KEY = web.AppKey("served", object)
EXECUTOR_KEY = web.AppKey("executor", ThreadPoolExecutor)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(exc: EngineError) -> dict[str, str]:
    return {"category": exc.category, "message": exc.message}


def error_response(exc: EngineError) -> web.Response:
    return web.json_response(error_body(exc), status=HTTP_STATUS.get(exc.category, 500))


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes ``{"category", "message"}`` with the status of the one table."""
    try:
        return await handler(request)
    except EngineError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        category = {404: "not_found", 405: "invalid", 413: "invalid"}.get(exc.status, "invalid")
        status = HTTP_STATUS[category] if exc.status != 405 else 405
        message = f"{request.method} {request.path}: {exc.reason.lower()}"
        return web.json_response({"category": category, "message": message}, status=status)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug: log it with its traceback, answer 500, keep serving
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response(
            {"category": "failed", "message": f"internal error: {type(exc).__name__}: {exc}"},
            status=500)


def _auth(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Require ``Authorization: Bearer <token>`` from TCP clients."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The unix socket is guarded by its file mode; only TCP peers show a token.
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if not isinstance(peer, tuple):
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return error_response(Unauthorized("request refused: missing or wrong bearer token"))
        return await handler(request)

    return check


def build_app(served: object, *, token: str | None = None,
              executor: ThreadPoolExecutor | None = None) -> web.Application:
    middlewares = [_errors] + ([_auth(token)] if token else [])
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[SERVED_KEY] = served
    app[EXECUTOR_KEY] = executor or ThreadPoolExecutor(max_workers=64,
                                                       thread_name_prefix="stackd-api")

    async def ping(_request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app.router.add_get(PING_PATH, ping)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _handler(route))

    async def shutdown(app: web.Application) -> None:
        app[EXECUTOR_KEY].shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(shutdown)
    return app


async def _arguments(route: Route, request: web.Request) -> dict[str, Any]:
    """The method's keyword arguments from the path, query string and body."""
    kwargs: dict[str, Any] = {}
    for name in route.path_names:
        kwargs[name] = request.match_info[name]
    query_params = {p.name: p for p in route.params if p.where == "query"}
    unknown = sorted(set(request.query) - set(query_params))
    if unknown:
        raise InvalidArgument(f"{route.method} {route.path}: unknown query parameter(s) "
                              f"{', '.join(unknown)}")
    for name, param in query_params.items():
        values = request.query.getall(name, [])
        if values:
            kwargs[name] = query_decode(param.type, list(values), name=name)
        elif param.required:
            raise InvalidArgument(f"{route.method} {route.path}: missing query parameter {name}")
    body_params = {p.name: p for p in route.params if p.where == "body"}
    if route.method == "POST":
        raw = await request.read()
        data: Any = {}
        if raw.strip():
            try:
                data = json.loads(raw, parse_constant=_reject_constant)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidArgument(f"{route.method} {route.path}: body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgument(f"{route.method} {route.path}: body must be a JSON object")
        unknown = sorted(set(data) - set(body_params))
        if unknown:
            raise InvalidArgument(f"{route.method} {route.path}: unknown field(s) "
                                  f"{', '.join(unknown)}")
        for name, param in body_params.items():
            if name in data:
                kwargs[name] = codec.decode(param.type, data[name], path=name)
            elif param.required:
                raise InvalidArgument(f"{route.method} {route.path}: missing field {name}")
    return kwargs


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _handler(route: Route) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        kwargs = await _arguments(route, request)
        method = getattr(request.app[SERVED_KEY], route.name, None)
        if method is None:
            raise NotFound(f"{route.method} {route.path}: not served by this daemon")
        if route.stream == "items":
            return await _item_stream(request, partial(method, **kwargs))
        if route.stream == "progress":
            return await _progress_stream(request, route, method, kwargs)
        if route.stream == "attach":
            return await _attach(request, partial(method, **kwargs))
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(request.app[EXECUTOR_KEY], partial(method, **kwargs))
        if result is None:
            return web.Response(status=204)
        return web.json_response(codec.encode(result))

    handle.__name__ = f"handle_{route.name}"
    return handle


class _Pipe:
    """Lines from a worker thread to the handler; bounded, so a slow client slows the producer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=64)
        self.stopped = threading.Event()

    def put(self, kind: str, value: Any) -> bool:
        """From the worker: False once the reader is gone (the worker should stop)."""
        while not self.stopped.is_set():
            future = asyncio.run_coroutine_threadsafe(self.queue.put((kind, value)), self.loop)
            try:
                future.result(timeout=1.0)
                return True
            except TimeoutError:
                future.cancel()
            except RuntimeError:  # the loop is closed: the daemon is going down
                return False
        return False


def _run_items(pipe: _Pipe, call: Callable[[], Iterator[Any]]) -> None:
    iterator: Iterator[Any] | None = None
    try:
        iterator = call()
        for item in iterator:
            if pipe.stopped.is_set():
                return
            if item is HEARTBEAT:
                continue
            if not pipe.put("item", item):
                return
    except EngineError as exc:
        pipe.put("error", exc)
    except Exception as exc:
        log.exception("stream failed")
        pipe.put("error", EngineError(f"internal error: {type(exc).__name__}: {exc}"))
    else:
        pipe.put("end", None)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


async def _item_stream(request: web.Request, call: Callable[[], Iterator[Any]]
                       ) -> web.StreamResponse:
    pipe = _Pipe(asyncio.get_running_loop())
    threading.Thread(target=_run_items, args=(pipe, call), daemon=True,
                     name="stackd-stream").start()
    return await _respond_stream(request, pipe, lambda kind, value: codec.encode(value))


async def _progress_stream(request: web.Request, route: Route, method: Callable[..., Any],
                           kwargs: dict[str, Any]) -> web.StreamResponse:
    pipe = _Pipe(asyncio.get_running_loop())
    progress_kwargs = {str(route.progress_param): partial(pipe.put, "progress")}

    def run() -> None:
        try:
            result = method(**kwargs, **progress_kwargs)
        except EngineError as exc:
            pipe.put("error", exc)
        except Exception as exc:
            log.exception("%s failed", route.name)
            pipe.put("error", EngineError(f"internal error: {type(exc).__name__}: {exc}"))
        else:
            pipe.put("result", result)
            pipe.put("end", None)

    threading.Thread(target=run, daemon=True, name="stackd-progress").start()
    return await _respond_stream(request, pipe,
                                 lambda kind, value: {kind: codec.encode(value)})


async def _respond_stream(request: web.Request, pipe: _Pipe,
                          line: Callable[[str, Any], Any]) -> web.StreamResponse:
    try:
        try:
            first: tuple[str, Any] | None = await asyncio.wait_for(pipe.queue.get(),
                                                                   FIRST_LINE_WAIT)
        except TimeoutError:
            first = None
        if first is not None and first[0] == "error":
            return error_response(first[1])
        response = web.StreamResponse(headers={"Content-Type": STREAM_CONTENT_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        message = first
        while True:
            if message is None:
                message = await pipe.queue.get()
            kind, value = message
            message = None
            if kind == "end":
                break
            if kind == "error":
                await response.write(_dumps({"error": error_body(value)}))
                break
            await response.write(_dumps(line(kind, value)))
        await response.write_eof()
        return response
    finally:
        pipe.stopped.set()


async def _attach(request: web.Request, start: Callable[[], Any]) -> web.StreamResponse:
    """Open the session first (so a missing container is a plain error answer), then
    upgrade to a WebSocket and relay until the process exits or the client leaves."""
    from runtime.daemon.exec_attach import STREAM_BYTES

    loop = asyncio.get_running_loop()
    executor = request.app[EXECUTOR_KEY]
    ws = web.WebSocketResponse(heartbeat=None, max_msg_size=MAX_BODY)
    if not ws.can_prepare(request).ok:
        raise InvalidArgument(f"{request.method} {request.path}: needs a WebSocket upgrade")
    session = await loop.run_in_executor(executor, start)
    try:
        await ws.prepare(request)

        async def pump_output() -> None:
            while True:
                chunk = await loop.run_in_executor(executor, session.read)
                if chunk is None:
                    continue
                if chunk.stream == "exit":
                    await ws.send_str(json.dumps({"exit": chunk.exit_code}))
                    await ws.close()
                    return
                await ws.send_bytes(bytes([STREAM_BYTES[chunk.stream]]) + chunk.data)

        output = asyncio.ensure_future(pump_output())
        try:
            async for msg in ws:
                if msg.type == web.WSMsgType.BINARY:
                    await loop.run_in_executor(executor, session.send, msg.data)
                elif msg.type == web.WSMsgType.TEXT:
                    control = json.loads(msg.data)
                    if control.get("eof"):
                        await loop.run_in_executor(executor, session.close_stdin)
                    if "resize" in control:
                        rows, cols = control["resize"]
                        session.resize(int(rows), int(cols))
                if output.done():
                    break
            if not output.done():  # the client left first: the session is closed below
                output.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await output
        finally:
            output.cancel()
        await ws.close()
        return ws
    finally:
        await loop.run_in_executor(executor, session.close)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"
