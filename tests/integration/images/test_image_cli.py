"""`stack image ...` as a user runs it: the real CLI in a subprocess, its own state root."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, ImageInfo
from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from tests.integration.conftest import RegistryServer

pytestmark = pytest.mark.root


@pytest.fixture
def env(engine_config: EngineConfig, private_credentials: Path) -> dict[str, str]:
    # STACK_ENGINE=local: the engine runs in the CLI process (no stackd is started, so
    # nothing outlives the test); the daemon's own tests cover the same calls over HTTP.
    return {**os.environ, "STACK_ENGINE": "local", "STACK_ROOT": str(engine_config.state_root),
            "STACK_RUN_DIR": str(engine_config.run_dir),
            "STACK_ADDRESS_POOL": engine_config.address_pool,
            "STACK_AUTH_FILE": str(private_credentials / "auth.json"),
            "DOCKER_CONFIG": str(private_credentials / "docker")}


def stack(env: dict[str, str], *args: str, ok: bool = True,
          stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["stack", *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_import_list_inspect_tag_rm(env: dict[str, str], busybox_tar: Path) -> None:
    out = stack(env, "image", "import", str(busybox_tar), "mybox:1").stdout.strip()
    assert out.startswith("sha256:")
    listing = stack(env, "images").stdout.splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert listing[1].split()[:3] == ["mybox", "1", out[7:19]]
    [info] = json.loads(stack(env, "image", "ls", "--format", "json").stdout)
    assert info["id"] == out and info["repo_tags"] == ["docker.io/library/mybox:1"]
    stack(env, "image", "tag", "mybox:1", "other/box:2")
    [inspected] = json.loads(stack(env, "image", "inspect", "other/box:2").stdout)
    assert sorted(inspected["repo_tags"]) == ["docker.io/library/mybox:1",
                                              "docker.io/other/box:2"]
    assert stack(env, "image", "rm", "mybox:1").stdout == "Untagged: docker.io/library/mybox:1\n"
    history = stack(env, "image", "history", "other/box:2").stdout
    assert "stack image import busybox-rootfs.tar" in history
    assert stack(env, "image", "rm", "other/box:2").stdout.splitlines() == [
        "Untagged: docker.io/other/box:2", f"Deleted: {out}"]
    missing = stack(env, "image", "inspect", "other/box:2", ok=False)
    assert (missing.returncode, missing.stderr) == (1, 'error: image "other/box:2" not found\n')


def test_save_load_prune(env: dict[str, str], busybox_image: ImageInfo, tmp_path: Path) -> None:
    archive = tmp_path / "bb.tar"
    stack(env, "image", "save", "busybox", "-o", str(archive), "--format", "oci")
    stack(env, "image", "rm", "busybox")
    assert stack(env, "image", "load", "-i", str(archive)).stdout == (
        "Loaded image: docker.io/library/busybox:latest\n")
    assert stack(env, "image", "prune").stdout == "Removed 0 image(s)\n"


def test_rm_refuses_an_image_a_container_uses(env: dict[str, str], engine_config: EngineConfig,
                                              busybox_image: ImageInfo) -> None:
    engine = LocalEngine(engine_config)
    try:
        engine.container_create(ContainerConfig(name="user-of-busybox", image="busybox",
                                                network_mode="none"))
        try:
            refused = stack(env, "image", "rm", "busybox", ok=False)
            assert refused.returncode == 1
            assert refused.stderr == ('error: image "busybox" is used by container(s) '
                                      "user-of-busybox: remove them first or use --force\n")
            # Forced: untagged only; the image stays (dangling) with its layers.
            forced = stack(env, "image", "rm", "--force", "busybox")
            assert forced.stdout == "Untagged: docker.io/library/busybox:latest\n"
            assert engine.image_inspect(busybox_image.id).repo_tags == ()
            assert all(d.is_dir() for d in engine.images.layer_dirs(busybox_image.id))
        finally:
            engine.container_remove("user-of-busybox", force=True)
    finally:
        engine.close()


def test_push_pull_with_plain_progress(env: dict[str, str], busybox_image: ImageInfo,
                                       registry: RegistryServer) -> None:
    name = f"{registry.host}/cli/busybox:1"
    stack(env, "image", "tag", "busybox", name)
    pushed = stack(env, "image", "push", name)
    assert pushed.stdout.startswith(f"{registry.host}/cli/busybox@sha256:")
    layer = busybox_image.layers and pushed.stderr.splitlines()
    assert layer and all(": " in line for line in layer)
    stack(env, "image", "rm", name, "busybox")
    pulled = stack(env, "image", "pull", name)
    assert pulled.stdout == pushed.stdout
    assert ": downloading" in pulled.stderr and ": done" in pulled.stderr


def test_login_logout(env: dict[str, str], auth_registry: RegistryServer) -> None:
    env = {**env, "SSL_CERT_FILE": str(auth_registry.ca_file)}
    bad = stack(env, "image", "login", auth_registry.host, "-u", auth_registry.username,
                "--password-stdin", stdin="nope\n", ok=False)
    assert bad.returncode == 1 and "not authorized" in bad.stderr
    good = stack(env, "image", "login", auth_registry.host, "-u", auth_registry.username,
                 "--password-stdin", stdin=auth_registry.password + "\n")
    assert good.stdout.startswith("Login succeeded")
    stored = json.loads(Path(env["STACK_AUTH_FILE"]).read_text())
    assert list(stored["auths"]) == [auth_registry.host]
    assert stack(env, "image", "logout", auth_registry.host).stdout == (
        f"Removed login credentials for {auth_registry.host}\n")
