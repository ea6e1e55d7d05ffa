"""Containers on bridge networks: the default network, connect and disconnect while running."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, EndpointConfig, ImageInfo, NetworkConfig
from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from tests.integration.containers.harness import assert_nothing_left
from tests.teardown import take_down

pytestmark = pytest.mark.root

FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


@pytest.fixture
def engine(engine_config: EngineConfig, short_tmp: Path,
           busybox_image: ImageInfo) -> Iterator[LocalEngine]:
    saved = FORWARD.read_text()
    config = replace(engine_config, nft_table=f"stk_c_{secrets.token_hex(4)}")
    eng = LocalEngine(config)
    try:
        yield eng
    finally:
        try:
            assert not take_down(eng)
        finally:
            eng.close()
            FORWARD.write_text(saved)
            assert_nothing_left(config, short_tmp)


def _interfaces(engine: LocalEngine, ref: str) -> list[str]:
    out = engine.container_exec(ref, ["ls", "/sys/class/net"]).stdout.decode()
    return sorted(out.split())


def test_default_network_then_connect_and_disconnect(engine: LocalEngine) -> None:
    engine.container_create(ContainerConfig(name="c", image="busybox:latest",
                                            command=("sleep", "60")))
    engine.container_start("c")
    info = engine.container_inspect("c")
    assert [n.network for n in info.networks] == ["bridge"]
    assert info.networks[0].ipv4_address
    resolv = engine.container_exec("c", ["cat", "/etc/resolv.conf"]).stdout.decode()
    assert "nameserver" in resolv
    hosts = engine.container_exec("c", ["cat", "/etc/hosts"]).stdout.decode()
    assert info.networks[0].ipv4_address.split("/")[0] in hosts

    engine.network_create(NetworkConfig(name="extra"))
    engine.network_connect("extra", "c", EndpointConfig(network="extra"))
    assert _interfaces(engine, "c") == ["eth0", "eth1", "lo"]
    assert [n.network for n in engine.container_inspect("c").networks] == ["bridge", "extra"]
    engine.network_disconnect("bridge", "c")
    assert _interfaces(engine, "c") == ["eth1", "lo"]
    engine.network_connect("bridge", "c", EndpointConfig(network="bridge"))
    assert _interfaces(engine, "c") == ["eth0", "eth1", "lo"]
    engine.container_restart("c", timeout=0)  # the config keeps the changes
    assert sorted(n.network for n in engine.container_inspect("c").networks) == [
        "bridge", "extra"]
    engine.network_disconnect("extra", "c")
    engine.network_disconnect("bridge", "c")
    engine.container_restart("c", timeout=0)
    assert engine.container_inspect("c").networks == ()
    assert _interfaces(engine, "c") == ["lo"]
