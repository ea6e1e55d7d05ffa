"""End to end with real containers (runc under conmon, through LocalEngine): name
resolution, aliases and a published port between busybox containers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from runtime.api import ContainerConfig, EndpointConfig, ImageInfo, NetworkConfig, PortBinding
from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from runtime.network import bridge, nft
from tests.teardown import take_down

pytestmark = pytest.mark.root

WEB = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


@pytest.fixture
def engine(net_config: EngineConfig, upstream_dns: str,
           busybox_image: ImageInfo) -> Iterator[LocalEngine]:
    eng = LocalEngine(replace(net_config, dns_upstream=(upstream_dns,)))
    try:
        yield eng
    finally:
        try:
            assert not take_down(eng)
        finally:
            eng.close()


def _wget(engine: LocalEngine, container: str, url: str) -> str:
    deadline = time.monotonic() + 5
    while True:
        result = engine.container_exec(container, ["wget", "-q", "-O", "-", url])
        if result.exit_code == 0 or time.monotonic() > deadline:
            return result.stdout.decode().strip()
        time.sleep(0.1)


def test_containers_by_name_alias_and_published_port(engine: LocalEngine) -> None:
    engine.network_create(NetworkConfig(name="front"))
    web = engine.container_create(ContainerConfig(
        name="web-1", image="busybox:latest", command=("sh", "-c", WEB), hostname="web1",
        networks=(EndpointConfig(network="front", aliases=("web", "web.proj")),),
        ports=(PortBinding(container_port=80, host_ip="127.0.0.1", host_port=18090),)))
    client = engine.container_create(ContainerConfig(
        name="client-1", image="busybox:latest", command=("sleep", "60"),
        networks=(EndpointConfig(network="front"),)))
    engine.container_start(web.id)
    engine.container_start(client.id)

    for name in ("web", "web-1", "web.proj"):
        assert _wget(engine, client.id, f"http://{name}/") == "hello from web1", name
    out = subprocess.run(["/bin/busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:18090/"],
                         capture_output=True, text=True, timeout=5).stdout
    assert out.strip() == "hello from web1"
    info = engine.container_inspect(web.id)
    assert info.networks[0].network == "front" and info.networks[0].ipv4_address

    bridge_name = engine.network_inspect("front").bridge
    for c in (web, client):
        engine.container_remove(c.id, force=True)
    engine.network_remove("front")
    with bridge.host_ipr() as ipr:
        assert bridge.link_index(ipr, bridge_name) is None
    assert not nft.table_exists(engine.config.nft_table)


def test_connect_a_running_container_to_another_network(engine: LocalEngine) -> None:
    engine.network_create(NetworkConfig(name="front"))
    engine.network_create(NetworkConfig(name="back"))
    db = engine.container_create(ContainerConfig(
        name="db-1", image="busybox:latest", command=("sh", "-c", WEB), hostname="db1",
        networks=(EndpointConfig(network="back"),)))
    client = engine.container_create(ContainerConfig(
        name="client-1", image="busybox:latest", command=("sleep", "60"),
        networks=(EndpointConfig(network="front"),)))
    engine.container_start(db.id)
    engine.container_start(client.id)
    assert engine.container_exec(client.id, ["wget", "-q", "-O", "-", "http://db-1/"]).exit_code
    engine.network_connect("back", client.id, EndpointConfig(network="back", aliases=("c",)))
    assert _wget(engine, client.id, "http://db-1/") == "hello from db1"
    lookup = engine.container_exec(db.id, ["nslookup", "c"])
    back_ip = engine.container_inspect(client.id).networks[1].ipv4_address or ""
    assert lookup.exit_code == 0 and back_ip.split("/")[0] in lookup.stdout.decode()
    assert client.id in engine.network_inspect("back").containers
    engine.network_disconnect("back", client.id)
    assert client.id not in engine.network_inspect("back").containers

