"""The shared Engine contract suite: every implementation of ``runtime.api.Engine`` must
pass the same tests.

Implementations are listed in ``ENGINE_FACTORIES``: a factory takes the test's
EngineConfig (its own state root and run dir, with busybox:latest already in the
image store) and returns an Engine; ``close()`` is called at the end when it has
one. Adding the daemon's HTTP client is one line here.

busybox:latest comes from the integration fixtures imported below (all three, as they
build on each other: import any new one they grow here too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.api import Engine, ImageInfo
from runtime.config import EngineConfig
from tests.integration.conftest import _busybox_seed, busybox_image, busybox_tar
from tests.integration.containers.harness import assert_nothing_left
from tests.integration.daemon.stackd_harness import http_engine


def local_engine(config: EngineConfig) -> Engine:
    from runtime.engine import LocalEngine

    return LocalEngine(config)


ENGINE_FACTORIES: list[Callable[[EngineConfig], Engine]] = [
    local_engine,
    http_engine,  # stackd in a subprocess, spoken to over its unix socket
]


@pytest.fixture(params=ENGINE_FACTORIES, ids=lambda f: f.__name__)
def engine(request: pytest.FixtureRequest, engine_config: EngineConfig, short_tmp: Path,
           busybox_image: ImageInfo) -> Iterator[Engine]:
    factory: Callable[[EngineConfig], Engine] = request.param
    eng = factory(engine_config)
    try:
        yield eng
    finally:
        try:
            for c in eng.container_list(all=True):
                eng.container_remove(c.id, force=True, volumes=True)
        finally:
            close = getattr(eng, "close", None)
            if close is not None:
                close()
            assert_nothing_left(engine_config, short_tmp)


__all__ = ["_busybox_seed", "busybox_image", "busybox_tar", "engine"]
