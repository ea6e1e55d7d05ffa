"""Contract: volumes through the Engine API."""

from __future__ import annotations

import pytest

from runtime.api import ContainerConfig, Engine, Mount, VolumeConfig
from runtime.errors import Conflict, InvalidArgument, NotFound

pytestmark = pytest.mark.root


def test_volume_lifecycle_labels_and_in_use(engine: Engine) -> None:
    created = engine.volume_create(VolumeConfig(name="vol1", labels={"io.stack.project": "p"}))
    assert (created.name, created.driver, dict(created.labels)) == (
        "vol1", "local", {"io.stack.project": "p"})
    assert engine.volume_create(VolumeConfig(name="vol1")).created_at == created.created_at
    assert [v.name for v in engine.volume_list(labels={"io.stack.project": "p"})] == ["vol1"]
    assert engine.volume_list(labels={"io.stack.project": "q"}) == []
    engine.container_create(ContainerConfig(
        name="user", image="busybox:latest", command=("sh", "-c", "echo hi > /v/f"),
        network_mode="none", mounts=(Mount(type="volume", source="vol1", target="/v"),)))
    engine.container_start("user")
    assert engine.container_wait("user", timeout=20) == 0
    with pytest.raises(Conflict):
        engine.volume_remove("vol1")
    engine.container_remove("user")
    engine.volume_remove("vol1")
    with pytest.raises(NotFound):
        engine.volume_inspect("vol1")
    with pytest.raises(InvalidArgument):
        engine.volume_create(VolumeConfig(name="bad/name"))
