"""stackd's client records and replays for the plan memo (orchestrator.plancache): an
object observe found missing is an answer too, and its appearing is a change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from daemon_fake_engine import IMAGE, FakeEngine

from orchestrator import plancache
from orchestrator.loader.load import LoadOptions, OpenedProject, open_project
from orchestrator.observe import observe
from runtime import api
from runtime.daemon.client import HttpEngine


class Images(FakeEngine):
    """Holds the images in ``present``; lists no containers, networks or volumes."""

    def __init__(self) -> None:
        super().__init__()
        self.present: set[str] = set()

    def image_inspect(self, ref: str) -> api.ImageInfo:
        if ref not in self.present:
            return super().image_inspect("missing")  # raises NotFound
        return IMAGE

    def container_list(self, *, all: bool = False,
                       labels: Any = None) -> list[api.ContainerInfo]:
        return []

    def network_list(self, *, labels: Any = None) -> list[api.NetworkInfo]:
        return []

    def volume_list(self, *, labels: Any = None) -> list[api.VolumeInfo]:
        return []


@pytest.fixture
def opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OpenedProject:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "stack.yaml").write_text("services:\n  app:\n    image: app:latest\n")
    options = LoadOptions(files=(tmp_path / "stack.yaml",), environ={}, working_dir=tmp_path)
    open_project(options)
    hit = open_project(options)
    assert hit.entry is not None
    return hit


def test_an_image_found_missing_then_present_is_a_miss(serve: Any, opened: OpenedProject
                                                        ) -> None:
    """With pulling off (``--pull never``) a missing image plans nothing for a running
    container; once the image is there its id may call for a recreate."""
    fake = Images()
    client: HttpEngine = serve(fake)
    key = plancache.key(opened, "up", {"pull": "never"})
    assert key is not None
    with plancache.recording(client) as calls:
        observed = observe(client, project="p", images=["app:latest"])
    assert observed.images == {"app:latest": None}
    plancache.remember(opened, key, calls)
    assert plancache.still_empty(client, opened, key)  # still missing: the same answers

    fake.present.add("app:latest")
    assert not plancache.still_empty(client, opened, key)
