"""Addresses, listener refusals, the systemd unit, cgroup modes, CLI time parsing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.cli.system import parse_time
from orchestrator.errors import UsageError
from runtime.daemon.main import check_listeners
from runtime.daemon.system import cgroup_mode
from runtime.daemon.tls import Address, TlsFiles, parse_address
from runtime.daemon.unit import unit_text
from runtime.errors import InvalidArgument

REPO = Path(__file__).resolve().parents[3]


def test_addresses() -> None:
    assert parse_address("unix:///run/stack/stackd.sock") == Address(
        scheme="unix", path="/run/stack/stackd.sock")
    assert parse_address("/tmp/s.sock") == Address(scheme="unix", path="/tmp/s.sock")
    assert parse_address("tcp://127.0.0.1:2376") == Address(scheme="tcp", host="127.0.0.1",
                                                            port=2376)
    assert str(parse_address("tcp://[::1]:2376")) == "tcp://[::1]:2376"
    for bad in ("http://x:1", "tcp://host", "unix://relative", "tcp://h:99999"):
        with pytest.raises(InvalidArgument, match=f'address "{bad}"'):
            parse_address(bad)


def test_tcp_needs_tls_and_client_authentication() -> None:
    tcp = [parse_address("tcp://0.0.0.0:2376")]
    with pytest.raises(InvalidArgument, match=re.escape(
            "refusing to listen on tcp://0.0.0.0:2376 without TLS")):
        check_listeners(tcp, tls=TlsFiles(), token_file=None)
    certs = TlsFiles(cert=Path("c"), key=Path("k"))
    with pytest.raises(InvalidArgument, match="without client authentication"):
        check_listeners(tcp, tls=certs, token_file=None)
    check_listeners(tcp, tls=TlsFiles(cacert=Path("ca"), cert=Path("c"), key=Path("k")),
                    token_file=None)
    check_listeners(tcp, tls=certs, token_file=Path("t"))
    check_listeners([parse_address("unix:///x")], tls=TlsFiles(), token_file=None)


def test_packaged_unit_is_the_generated_one() -> None:
    text = (REPO / "packaging" / "stackd.service").read_text()
    assert text == unit_text()
    assert "KillMode=process" in text  # stopping the service must not kill conmon


def test_cgroup_modes() -> None:
    v2 = "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
    hybrid = ("tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n"
              "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n")
    v1 = "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n"
    assert cgroup_mode(mounts=v2) == "v2"
    assert cgroup_mode(mounts=hybrid) == "hybrid"
    assert cgroup_mode(mounts=v1) == "v1"
    assert cgroup_mode(mounts="") == "none"


def test_event_times() -> None:
    assert parse_time("10m", now=1000.0) == 400.0
    assert parse_time("1.5h", now=10_000.0) == 4600.0
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time("2024-01-01T00:00:00Z") == 1704067200.0
    with pytest.raises(UsageError, match='time "soon" is not understood'):
        parse_time("soon")
