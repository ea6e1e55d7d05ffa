"""`stack info|version|system df|prune|events` against a real stackd (via STACK_HOST)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, ContainerState, Healthcheck, ImageConfig, ImageInfo
from tests.integration.daemon.stackd_harness import StackdProcess

pytestmark = pytest.mark.timeout(120)


def stack(daemon: StackdProcess, *args: str, input: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STACK_ENGINE"}
    env["STACK_HOST"] = f"unix://{daemon.config.socket_path}"
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args],
                          capture_output=True, text=True, timeout=60, env=env, input=input)


def test_info_and_version(stackd: StackdProcess) -> None:
    result = stack(stackd, "info", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["server"]["state_root"] == str(stackd.config.state_root)
    assert data["server"]["cgroup_mode"] in ("v1", "v2", "hybrid")
    text = stack(stackd, "system", "info").stdout
    assert "Containers:       0" in text and f"Run dir:          {stackd.config.run_dir}" in text
    version = stack(stackd, "version")
    assert version.returncode == 0 and "API version:  1" in version.stdout


@pytest.mark.root
def test_df_prune_and_events(busybox_image: ImageInfo, stackd: StackdProcess) -> None:
    client = stackd.client
    t0 = time.time()
    client.container_create(ContainerConfig(name="done", image="busybox:latest",
                                            command=("true",), network_mode="none"))
    client.container_start("done")
    assert client.container_wait("done", timeout=20) == 0
    df = stack(stackd, "system", "df", "--format", "json")
    assert df.returncode == 0, df.stderr
    kinds = {e["kind"]: e for e in json.loads(df.stdout)}
    assert kinds["containers"]["total"] == 1 and kinds["images"]["total"] == 1

    refused = stack(stackd, "system", "prune", input="n\n")
    assert refused.returncode == 1 and "all stopped containers" in refused.stdout
    assert len(client.container_list(all=True)) == 1
    pruned = stack(stackd, "system", "prune", "-f")
    assert pruned.returncode == 0, pruned.stderr
    assert "Deleted containers:" in pruned.stdout
    assert client.container_list(all=True) == []

    events = stack(stackd, "system", "events", "--since", str(t0), "--until", str(time.time()),
                   "--filter", "type=container", "--format", "json")
    assert events.returncode == 0, events.stderr
    actions = [json.loads(line)["action"] for line in events.stdout.splitlines()]
    assert actions[:1] == ["create"] and "die" in actions and actions[-1] == "destroy"


@pytest.mark.root
def test_the_images_healthcheck_applies(busybox_tar: Path, stackd: StackdProcess) -> None:
    from runtime.events import EventLog
    from runtime.images.service import ImageService
    from runtime.metadata import Metadata

    md = Metadata(stackd.config.metadata_db)
    try:
        ImageService(stackd.config, md, EventLog(md)).import_rootfs(
            busybox_tar, "checked:latest",
            config=ImageConfig(env=("PATH=/bin",), cmd=("sleep", "60"), healthcheck=Healthcheck(
                test=("CMD", "true"), interval=0.2, start_interval=0.2)))
    finally:
        md.close()
    client = stackd.client
    client.container_create(ContainerConfig(name="img-hc", image="checked:latest",
                                            network_mode="none"))
    client.container_start("img-hc")
    deadline = time.monotonic() + 15
    while client.container_inspect("img-hc").health.value != "healthy":
        assert time.monotonic() < deadline, "the image's HEALTHCHECK never ran"
        time.sleep(0.05)
    assert client.container_inspect("img-hc").state == ContainerState.RUNNING
