"""Daemon integration fixtures (the harness is in stackd_harness.py).

``stackd``: a started daemon (``.client`` is an HttpEngine on its socket), stopped
by PID at teardown, after which every container is removed and nothing may be left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.config import EngineConfig
from tests.integration.daemon.stackd_harness import StackdProcess, cleanup_engine


@pytest.fixture
def stackd(engine_config: EngineConfig, short_tmp: Path) -> Iterator[StackdProcess]:
    daemon = StackdProcess(engine_config, short_tmp)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.client.close()
        print(f"--- stackd log ---\n{daemon.log()}")  # shown by pytest when the test failed
        try:
            daemon.stop()
        finally:
            cleanup_engine(engine_config, short_tmp)
