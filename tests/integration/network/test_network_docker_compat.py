"""Living beside Docker: br_netfilter on, iptables FORWARD policy DROP (and Docker's
DOCKER-USER chain jumped to from FORWARD, or not): two sandboxes on one of our bridges
still talk, through accept rules that go away with the network.

The test makes that situation itself and puts back everything it changed (policy,
chains, sysctl; br_netfilter is only unloaded if the test loaded it)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from runtime.api import NetworkConfig
from runtime.network import dockercompat

if TYPE_CHECKING:
    from conftest import Lab

pytestmark = pytest.mark.root

CALL_IPTABLES = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
JUMP = ["FORWARD", "-j", "DOCKER-USER", "-m", "comment", "--comment", "stack-test-jump"]


def _ipt(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=check)


def _policy() -> str:
    for line in _ipt("-S", "FORWARD").stdout.splitlines():
        if line.startswith("-P FORWARD "):
            return line.split()[2]
    raise AssertionError("no FORWARD policy")


@pytest.fixture(params=["docker-user", "forward"])
def docker_like(request: pytest.FixtureRequest) -> Iterator[str]:
    """The host as Docker leaves it (with or without DOCKER-USER; a host that runs Docker
    has it anyway); yields the chain our rules should go to."""
    if shutil.which("iptables") is None:
        pytest.fail("iptables is needed for the Docker compatibility test", pytrace=False)
    # iptables-nft makes "table ip filter" when first used: delete it again if it is new
    had_filter_table = subprocess.run(["nft", "list", "table", "ip", "filter"],
                                      capture_output=True, check=False).returncode == 0
    loaded_here = False
    if not CALL_IPTABLES.exists():
        subprocess.run(["modprobe", "br_netfilter"], check=True)
        loaded_here = True
    saved_call = CALL_IPTABLES.read_text()
    saved_policy = _policy()
    had_user_chain = _ipt("-S", "DOCKER-USER", check=False).returncode == 0
    made_chain = added_jump = False
    try:
        CALL_IPTABLES.write_text("1")
        if request.param == "docker-user":
            if not had_user_chain:
                _ipt("-N", "DOCKER-USER")
                made_chain = True
            _ipt("-I", *JUMP)
            added_jump = True
        _ipt("-P", "FORWARD", "DROP")
        # with Docker really running, its DOCKER-USER chain is where our rules belong
        yield "DOCKER-USER" if request.param == "docker-user" or had_user_chain else "FORWARD"
    finally:
        _ipt("-P", "FORWARD", saved_policy)
        if added_jump:
            _ipt("-D", *JUMP, check=False)
        if made_chain:
            _ipt("-F", "DOCKER-USER", check=False)
            _ipt("-X", "DOCKER-USER", check=False)
        CALL_IPTABLES.write_text(saved_call)
        if not had_filter_table and "nf_tables" in _ipt("-V").stdout:
            subprocess.run(["nft", "delete", "table", "ip", "filter"], check=False)
        if loaded_here:
            subprocess.run(["modprobe", "-r", "br_netfilter"], check=False)


def test_our_bridge_passes_iptables_drop(lab: Lab, docker_like: str) -> None:
    net = lab.svc.create(NetworkConfig(name="front"))
    rules = _ipt("-S", docker_like).stdout
    assert f"stack:{net.bridge}" in rules
    lab.container("a", ["front"])
    lab.container("b", ["front"])
    lab.httpd("a")
    assert lab.wget("b", "http://a/") == (0, "hello from a")
    if docker_like == "DOCKER-USER":
        # the control: without our rules the DROP policy does block the bridge
        dockercompat.remove(net.bridge)
        assert lab.wget("b", f"http://{lab.ip('a')}/", timeout=1.5)[0] != 0
        dockercompat.allow(net.bridge)
        assert lab.wget("b", "http://a/") == (0, "hello from a")
    lab.stop_processes()
    lab.svc.sandbox_remove("a")
    lab.svc.sandbox_remove("b")
    lab.svc.remove("front")
    assert f"stack:{net.bridge}" not in _ipt("-S", docker_like).stdout
