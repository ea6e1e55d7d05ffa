"""Building images with real containers: multi-stage, the step cache, failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.api import BuildProgress, ContainerConfig, ImageInfo
from runtime.engine import LocalEngine
from runtime.errors import Failed

pytestmark = pytest.mark.root

Copy = Callable[[str], Path]


def _run(engine: LocalEngine, image: str, name: str) -> tuple[int, str]:
    info = engine.container_create(ContainerConfig(name=name, image=image, network_mode="none"))
    try:
        engine.container_start(info.id)
        code = engine.container_wait(info.id, timeout=20)
        out = "\n".join(e.data.decode() for e in engine.container_logs(info.id))
        return code, out
    finally:
        engine.container_remove(info.id, force=True)


def _blobs(engine: LocalEngine) -> set[str]:
    return set(engine.images.blobs.digests())


def test_two_stage_build_runs(engine: LocalEngine, busybox_image: ImageInfo,
                              fixture_context: Copy) -> None:
    context = fixture_context("two-stage")
    reports: list[BuildProgress] = []
    info = engine.image_build(str(context), tags=["greeter:1"], build_args={"WHO": "stack"},
                              progress=reports.append)
    assert info.repo_tags == ("docker.io/library/greeter:1",)
    assert info.config.entrypoint == ("/bin/busybox",)
    assert info.config.cmd == ("cat", "/greeting.txt")
    assert len(info.layers) == 2  # scratch + two COPY layers
    assert "made greeting" in [r.text for r in reports if r.status == "output"]
    code, out = _run(engine, "greeter:1", "greeter-run")
    assert (code, out) == (0, "hello, stack, from the build stage")
    assert engine.container_list(all=True) == []


def test_rebuild_is_cached_and_a_changed_file_reruns_only_later_steps(
        engine: LocalEngine, busybox_image: ImageInfo, fixture_context: Copy) -> None:
    context = fixture_context("cached")
    first = engine.image_build(str(context), tags=["cached:1"])
    code, out = _run(engine, "cached:1", "cached-run")
    assert (code, out) == (0, "one.txt\ntwo.txt")  # .dockerignore kept ignored.log out

    blobs = _blobs(engine)
    reports: list[BuildProgress] = []
    started = time.monotonic()
    again = engine.image_build(str(context), tags=["cached:1"], progress=reports.append)
    elapsed = time.monotonic() - started
    assert again.id == first.id
    assert _blobs(engine) == blobs  # no new layer, no new config
    assert not [r for r in reports if r.status == "output"]
    cached = [r.location for r in reports if r.status == "cached"]
    # every step but FROM and ARG is a cache hit (Dockerfile lines 3..10)
    assert cached == [f"Dockerfile:{n}" for n in range(3, 11)]
    assert elapsed < 1.0, f"a fully cached 10-step rebuild took {elapsed:.2f} s"

    (context / "src" / "two.txt").write_text("changed\n")
    (context / "src" / "three.txt").write_text("3\n")
    reports.clear()
    changed = engine.image_build(str(context), tags=["cached:1"], progress=reports.append)
    hits = {r.location for r in reports if r.status == "cached"}
    runs = {r.location for r in reports if r.status == "start"}
    assert hits == {"Dockerfile:3", "Dockerfile:4", "Dockerfile:5", "Dockerfile:6"}
    assert runs == {"Dockerfile:7", "Dockerfile:8", "Dockerfile:9", "Dockerfile:10"}
    assert changed.id != first.id
    assert changed.layers[:-2] == first.layers[:-2]
    assert _run(engine, "cached:1", "cached-run2") == (0, "one.txt\nthree.txt\ntwo.txt")


def test_no_cache_runs_every_step(engine: LocalEngine, busybox_image: ImageInfo,
                                  fixture_context: Copy) -> None:
    context = fixture_context("cached")
    engine.image_build(str(context))
    reports: list[BuildProgress] = []
    engine.image_build(str(context), no_cache=True, progress=reports.append)
    assert not [r for r in reports if r.status == "cached"]


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def test_failing_run_names_the_line_and_leaves_nothing(
        engine: LocalEngine, busybox_image: ImageInfo, fixture_context: Copy) -> None:
    context = fixture_context("failing")
    images_before = {i.id for i in engine.image_list()}
    reports: list[BuildProgress] = []
    with pytest.raises(Failed) as failure:
        engine.image_build(str(context), tags=["broken:1"], progress=reports.append)
    message = failure.value.message
    assert message.startswith("Dockerfile:4: RUN ")
    assert "failed with exit code 7" in message
    assert "about to fail" in message and "on stderr" in message
    assert [r.location for r in reports if r.status == "error"] == ["Dockerfile:4"]
    assert "Dockerfile:7" not in {r.location for r in reports}
    assert {i.id for i in engine.image_list()} == images_before
    assert engine.container_list(all=True) == []
    state_root = engine.config.state_root
    assert _mounts_under(state_root) == []
    assert list((state_root / "images" / "build" / "tmp").iterdir()) == []
    assert list(engine.config.containers_dir.iterdir()) == []


def test_changed_build_arg_reruns_runs_but_not_copies(
        engine: LocalEngine, busybox_image: ImageInfo, fixture_context: Copy) -> None:
    context = fixture_context("cached")
    engine.image_build(str(context))
    reports: list[BuildProgress] = []
    engine.image_build(str(context), build_args={"MODE": "debug"}, progress=reports.append)
    # ARG itself changes nothing; the first RUN (whose environment has MODE) reruns, and
    # so does everything built on it.
    hits = [r.location for r in reports if r.status == "cached"]
    runs = [r.location for r in reports if r.status == "start"]
    assert hits == ["Dockerfile:3", "Dockerfile:4", "Dockerfile:5"]
    assert runs == [f"Dockerfile:{n}" for n in range(6, 11)]
