"""`stack network ...` against the real engine (the sub-app, with the engine from the env)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from orchestrator.cli import network as network_cli
from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from runtime.errors import AlreadyExists, InvalidArgument
from runtime.network import nft

pytestmark = pytest.mark.root



@pytest.fixture
def cli_env(net_config: EngineConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineConfig]:
    monkeypatch.setenv("STACK_ROOT", str(net_config.state_root))
    monkeypatch.setenv("STACK_RUN_DIR", str(net_config.run_dir))
    monkeypatch.setenv("STACK_ADDRESS_POOL", net_config.address_pool)
    monkeypatch.setenv("STACK_NFT_TABLE", net_config.nft_table)
    monkeypatch.setenv("STACK_DNS_UPSTREAM", "127.0.0.77")
    try:
        yield net_config
    finally:
        engine = LocalEngine(EngineConfig.from_env())
        try:
            for n in engine.network_list():
                engine.networks.remove(n.id)
            nft.delete_table(net_config.nft_table)
            engine.networks.dns.stop()
        finally:
            engine.close()


def _run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(network_cli.app, list(args))
    return result.exit_code, result.stdout, result.exception


def test_create_ls_inspect_prune(cli_env: EngineConfig) -> None:
    code, out, exc = _run("create", "--subnet", "10.199.5.0/24", "--ip-range", "10.199.5.128/25",
                          "--label", "tier=front", "-o", "mtu=1400", "front")
    assert (code, exc) == (0, None) and re.fullmatch(r"[0-9a-f]{64}\n", out)
    assert _run("create", "--internal", "--ipv6", "inner")[0] == 0

    code, out, _ = _run("ls")
    lines = out.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SUBNET", "INTERNAL",
                                "CONTAINERS"]
    assert any(" front " in f" {line} " and "10.199.5.0/24" in line for line in lines[1:])

    code, out, _ = _run("ls", "--format", "json", "--label", "tier=front")
    (front,) = json.loads(out)
    assert front["mtu"] == 1400 and front["ipam"][0]["ip_range"] == "10.199.5.128/25"
    (inner,) = json.loads(_run("inspect", "inner")[1])
    assert inner["internal"] and inner["enable_ipv6"] and ":" in inner["ipam"][1]["subnet"]

    code, _, exc = _run("create", "-o", "mtu=abc", "bad")
    assert isinstance(exc, InvalidArgument) and exc.message == 'network "bad": mtu "abc" is not a number'
    code, _, exc = _run("create", "front")
    assert isinstance(exc, AlreadyExists) and exc.message == 'network "front" already exists'

    code, out, _ = _run("prune", "-f")
    assert out.splitlines() == ["Deleted networks:", "front", "inner"]
    assert json.loads(_run("ls", "--format", "json")[1]) == []
    assert not nft.table_exists(cli_env.nft_table)
