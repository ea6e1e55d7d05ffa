"""The client side of stackd's attach WebSocket (RFC 6455), on the standard library only.

After ``connection.Pool.upgrade`` has done the HTTP/1.1 handshake, ``WsSession``
speaks frames on the same socket (unix or TLS): it masks what it sends, as a
client must, and reads unmasked frames. Only what the attach protocol uses:
binary and text messages, close, ping/pong (see ``runtime.daemon.exec_attach``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import struct
import threading
from typing import Any

from runtime.daemon.exec_attach import STREAM_BYTES
from runtime.daemon.exec_stream import ExecChunk
from runtime.errors import Unavailable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
STREAMS = {v: k for k, v in STREAM_BYTES.items()}


def handshake_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class WsSession:
    """An ``AttachSession`` (exec or a container's main process) over a WebSocket. ``send``/``resize`` may be called from
    another thread than ``read`` (a lock keeps frames whole)."""

    def __init__(self, sock: Any, rfile: Any) -> None:
        self._sock = sock
        self._rfile = rfile
        self._lock = threading.Lock()
        self._exit: ExecChunk | None = None

    def send(self, data: bytes) -> None:
        self._frame(OP_BINARY, data)

    def close_stdin(self) -> None:
        self._frame(OP_TEXT, json.dumps({"eof": True}).encode())

    def resize(self, rows: int, cols: int) -> None:
        self._frame(OP_TEXT, json.dumps({"resize": [rows, cols]}).encode())

    def read(self) -> ExecChunk | None:
        if self._exit is not None:
            return self._exit
        while True:
            opcode, payload = self._read_message()
            if opcode == OP_BINARY and payload:
                return ExecChunk(stream=STREAMS.get(payload[0], "stdout"),  # type: ignore[arg-type]
                                 data=payload[1:])
            if opcode == OP_TEXT:
                message = json.loads(payload)
                if "exit" in message:
                    self._exit = ExecChunk(stream="exit", exit_code=int(message["exit"]))
                    return self._exit
            elif opcode == OP_PING:
                self._frame(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                raise Unavailable("stackd closed the attach session before the process's exit")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._frame(OP_CLOSE, struct.pack("!H", 1000))
        with contextlib.suppress(OSError):
            self._rfile.close()
        with contextlib.suppress(OSError):
            self._sock.close()

    # --- frames ------------------------------------------------------------------------

    def _frame(self, opcode: int, payload: bytes) -> None:
        head = bytes([0x80 | opcode])
        size = len(payload)
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", size)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", size)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self._lock:
            self._sock.sendall(head + mask + masked)

    def _read_exact(self, n: int) -> bytes:
        data = self._rfile.read(n) if n else b""
        if len(data) < n:
            raise Unavailable("stackd: the attach session's connection broke")
        return bytes(data)

    def _read_message(self) -> tuple[int, bytes]:
        opcode = OP_CONT
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read_exact(2)
            size = b1 & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._read_exact(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._read_exact(8))
            mask = self._read_exact(4) if b1 & 0x80 else b""
            payload = self._read_exact(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            op = b0 & 0x0F
            if op >= OP_CLOSE:  # control frames come whole, even between fragments
                return op, payload
            if op != OP_CONT:
                opcode = op
            parts.append(payload)
            if b0 & 0x80:
                return opcode, b"".join(parts)
