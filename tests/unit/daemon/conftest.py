"""A stackd server in a background thread (own event loop) on a unix socket in short_tmp."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from runtime.daemon.client import HttpEngine
from runtime.daemon.server import build_app


class ServerThread:
    def __init__(self, served: object, socket: Path, *, token: str | None = None) -> None:
        self.socket = socket
        self.loop = asyncio.new_event_loop()
        self.app = build_app(served, token=token)
        self.runner = web.AppRunner(self.app, handler_cancellation=True)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

        async def up() -> None:
            await self.runner.setup()
            await web.UnixSite(self.runner, str(self.socket)).start()

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def serve(short_tmp: Path) -> Iterator[object]:
    """``serve(obj)`` -> an HttpEngine talking to a server that serves ``obj``."""
    started: list[tuple[ServerThread, HttpEngine]] = []

    def start(served: object, *, token: str | None = None,
              client_token: str | None = None) -> HttpEngine:
        server = ServerThread(served, short_tmp / f"s{len(started)}.sock", token=token)
        server.start()
        client = HttpEngine(f"unix://{server.socket}", token=client_token)
        started.append((server, client))
        return client

    try:
        yield start
    finally:
        for server, client in started:
            client.close()
            server.stop()
