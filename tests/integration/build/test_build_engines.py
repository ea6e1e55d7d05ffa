"""image_build through every Engine implementation: in process and over stackd's API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.api import BuildProgress, Engine, ImageInfo
from runtime.config import EngineConfig
from runtime.errors import Failed
from tests.integration.containers.harness import assert_nothing_left
from tests.integration.daemon.stackd_harness import http_engine

pytestmark = pytest.mark.root


def local_engine(config: EngineConfig) -> Engine:
    from runtime.engine import LocalEngine

    return LocalEngine(config)


@pytest.fixture(params=[local_engine, http_engine], ids=lambda f: f.__name__)
def any_engine(request: pytest.FixtureRequest, engine_config: EngineConfig, short_tmp: Path,
               busybox_image: ImageInfo) -> Iterator[Engine]:
    factory: Callable[[EngineConfig], Engine] = request.param
    eng = factory(engine_config)
    try:
        yield eng
    finally:
        close = getattr(eng, "close", None)
        if close is not None:
            close()
        assert_nothing_left(engine_config, short_tmp)


def test_build_progress_cache_and_failure(any_engine: Engine, short_tmp: Path) -> None:
    context = short_tmp / "ctx"
    context.mkdir()
    (context / "msg").write_text("over the wire\n")
    text = "FROM busybox\nCOPY msg /msg\nRUN cat /msg\nCMD [\"cat\", \"/msg\"]\n"
    reports: list[BuildProgress] = []
    info = any_engine.image_build(str(context), dockerfile_text=text, tags=["wire:1"],
                                  progress=reports.append)
    assert info.repo_tags == ("docker.io/library/wire:1",)
    assert info.config.cmd == ("cat", "/msg")
    assert "over the wire" in [r.text for r in reports if r.status == "output"]
    reports.clear()
    again = any_engine.image_build(str(context), dockerfile_text=text, tags=["wire:1"],
                                   progress=reports.append)
    assert again.id == info.id
    assert [r.location for r in reports if r.status == "cached"] == [
        "Dockerfile:2", "Dockerfile:3", "Dockerfile:4"]
    with pytest.raises(Failed) as failure:
        any_engine.image_build(str(context), dockerfile_text="FROM busybox\nRUN exit 42\n")
    assert failure.value.message == "Dockerfile:2: RUN exit 42 failed with exit code 42"
    assert any_engine.container_list(all=True) == []
