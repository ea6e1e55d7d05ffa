"""IPAM: subnet picking (pure) and leases in SQLite (no root)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from runtime.api import IpamPool
from runtime.errors import Conflict, InvalidArgument
from runtime.metadata import Metadata
from runtime.network import ipam, store


@pytest.fixture
def md(tmp_path: Path) -> Metadata:
    metadata = Metadata(tmp_path / "metadata.db")
    store.ensure_schema(metadata)
    return metadata


def test_pick_subnet_skips_taken_and_host_routes() -> None:
    taken = [ipaddress.ip_network("10.199.0.0/24"), ipaddress.ip_network("10.199.1.128/25")]
    assert str(ipam.pick_subnet(pool="10.199.0.0/16", prefix=24, taken=taken)) == "10.199.2.0/24"


def test_pick_subnet_ignores_wider_unrelated_and_ipv6() -> None:
    taken = [ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("fd00::/64")]
    assert str(ipam.pick_subnet(pool="10.199.0.0/16", prefix=24, taken=taken)) == "10.199.0.0/24"


def test_pick_subnet_exhausted_names_the_pool() -> None:
    with pytest.raises(Conflict, match=re.escape('address pool "10.199.0.0/23" is exhausted')):
        ipam.pick_subnet(pool="10.199.0.0/23", prefix=24,
                         taken=[ipaddress.ip_network("10.199.0.0/23")])


def test_complete_pool_defaults_gateway_and_checks_it() -> None:
    assert ipam.complete_pool(IpamPool(subnet="10.5.0.0/24")).gateway == "10.5.0.1"
    with pytest.raises(InvalidArgument, match=re.escape('gateway "10.6.0.1" is not a host address')):
        ipam.complete_pool(IpamPool(subnet="10.5.0.0/24", gateway="10.6.0.1"))
    with pytest.raises(InvalidArgument, match=re.escape('ip_range "10.6.0.0/28" is not inside')):
        ipam.complete_pool(IpamPool(subnet="10.5.0.0/24", ip_range="10.6.0.0/28"))
    with pytest.raises(InvalidArgument, match="not a valid subnet"):
        ipam.complete_pool(IpamPool(subnet="10.5.0.1/24"))


def test_addresses_are_unique_and_released(md: Metadata) -> None:
    pool = ipam.complete_pool(IpamPool(subnet="10.5.0.0/29"))
    got = []
    with md.transaction() as db:
        for n in range(5):  # .2 .. .6 (.0 network, .1 gateway, .7 broadcast)
            got.append(str(ipam.allocate(db, network_id="n", pool=pool, container_id=f"c{n}")))
    assert got == [f"10.5.0.{i}/29" for i in range(2, 7)]
    with pytest.raises(Conflict, match=re.escape('subnet "10.5.0.0/29" has no free address left')), \
            md.transaction() as db:
        ipam.allocate(db, network_id="n", pool=pool, container_id="c9")
    with md.transaction() as db:
        ipam.release(db, network_id="n", container_id="c2")
        assert str(ipam.allocate(db, network_id="n", pool=pool, container_id="c9")) == "10.5.0.4/29"


def test_requested_address_conflicts_and_range(md: Metadata) -> None:
    pool = ipam.complete_pool(IpamPool(subnet="10.5.0.0/24", ip_range="10.5.0.128/25"))
    with md.transaction() as db:
        assert str(ipam.allocate(db, network_id="n", pool=pool, container_id="a")) == "10.5.0.128/24"
        assert str(ipam.allocate(db, network_id="n", pool=pool, container_id="b",
                                 requested="10.5.0.9")) == "10.5.0.9/24"
    with pytest.raises(Conflict, match=re.escape('address "10.5.0.9" is already in use by container b')), \
            md.transaction() as db:
        ipam.allocate(db, network_id="n", pool=pool, container_id="c", requested="10.5.0.9")
    with pytest.raises(InvalidArgument, match=re.escape('address "10.5.0.1" is not a free host address')), \
            md.transaction() as db:
        ipam.allocate(db, network_id="n", pool=pool, container_id="c", requested="10.5.0.1")


def test_ipv6_allocation(md: Metadata) -> None:
    pool = ipam.complete_pool(IpamPool(subnet="fd00:1::/64"))
    assert pool.gateway == "fd00:1::1"
    with md.transaction() as db:
        assert str(ipam.allocate(db, network_id="n", pool=pool, container_id="a")) == "fd00:1::2/64"
