"""Waiting on worker threads without blocking Ctrl-C.

``Future.result()`` with no timeout sits in a lock wait that KeyboardInterrupt
cannot break on every platform; polling with a short timeout keeps the main
thread responsive, so up and down can stop cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, TimeoutError

POLL = 0.2  # seconds


def wait_all(futures: Iterable[Future[None]]) -> None:
    """Wait for each future in turn; re-raises the first job's exception."""
    for future in futures:
        while True:
            try:
                future.result(timeout=POLL)
                break
            except TimeoutError:
                continue
