"""A built image is a normal OCI image: pushed, then read back by an independent client."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.api import ImageInfo
from runtime.engine import LocalEngine
from tests.integration.conftest import RegistryServer

pytestmark = pytest.mark.root


def _skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        pytest.fail("skopeo is missing (it is a test prerequisite)", pytrace=False)
    return path


def _inspect_config(name: str, *, raw: bool = False) -> dict[str, Any]:
    proc = subprocess.run([_skopeo(), "inspect", "--config", *(["--raw"] if raw else []),
                           "--tls-verify=false", f"docker://{name}"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_pushed_build_config_is_what_the_dockerfile_said(
        engine: LocalEngine, busybox_image: ImageInfo, registry: RegistryServer,
        fixture_context: Callable[[str], Path]) -> None:
    context = fixture_context("config")
    name = f"{registry.host}/build-config/app:1"
    info = engine.image_build(str(context), tags=[name], build_args={"VERSION": "2.5"},
                              labels={"org.example.built-by": "stack"})
    engine.image_push(name)
    doc = _inspect_config(name)
    config = doc["config"]
    assert config["Entrypoint"] == ["/usr/local/bin/serve"]
    assert config["Cmd"] == ["--port", "8080"]
    assert "APP_VERSION=2.5" in config["Env"]
    assert "APP_NAME=demo app" in config["Env"]
    assert any(e.startswith("PATH=") for e in config["Env"])
    assert config["Labels"] == {"org.opencontainers.image.title": "demo",
                                "org.example.version": "2.5",
                                "org.example.built-by": "stack"}
    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/srv"
    assert config["ExposedPorts"] == {"8080/tcp": {}, "9090/udp": {}}
    assert config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGTERM"
    # skopeo's parsed view keeps only OCI fields; the raw config has Docker's too.
    raw = _inspect_config(name, raw=True)
    assert raw["config"]["Healthcheck"] == {"Test": ["CMD", "serve"], "Interval": 5_000_000_000,
                                     "Timeout": 2_000_000_000, "Retries": 4}
    assert doc["rootfs"]["diff_ids"] == list(info.layers)
    created_by = [h.get("created_by", "") for h in doc["history"]]
    assert any(c.startswith("COPY --chmod=755 <<EOF /usr/local/bin/serve") for c in created_by)
    assert len([h for h in doc["history"] if not h.get("empty_layer")]) == len(info.layers)
    # The heredoc file came through with its mode and expanded content.
    layer = engine.images.layer_dirs(info.id)[-1]
    serve = layer / "usr/local/bin/serve"
    assert serve.stat().st_mode & 0o777 == 0o755
    assert serve.read_text() == '#!/bin/sh\necho "serving demo app"\n'


def test_from_pulls_a_missing_base_and_pull_refreshes(
        engine: LocalEngine, busybox_image: ImageInfo, registry: RegistryServer,
        short_tmp: Path) -> None:
    base = f"{registry.host}/build-base/busybox:1"
    engine.image_tag("busybox", base)
    engine.image_push(base)
    engine.image_remove(base)
    context = short_tmp / "ctx"
    context.mkdir()
    text = f"FROM {base}\nRUN echo pulled > /marker\n"
    info = engine.image_build(str(context), dockerfile_text=text)
    assert engine.image_inspect(base).id == busybox_image.id
    again = engine.image_build(str(context), dockerfile_text=text, pull=True)
    assert again.id == info.id
