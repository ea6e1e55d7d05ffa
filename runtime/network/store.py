"""The network part's tables in the engine's SQLite, and the records in them.

Invariants: a network row exists before its bridge is made and goes after the
bridge is gone, so a crash leaves a row that ``NetworkService.remove`` can clean
up; an endpoint row and its leases and DNS names are written in one
transaction. The DNS process reads ``net_networks``, ``net_endpoints`` and
``net_names`` (read only), so their shape is shared with runtime.network.dns.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from runtime.api import EndpointInfo, IpamPool, NetworkInfo
from runtime.metadata import Metadata

SCHEMA_VERSION = 1
_DDL = """
CREATE TABLE IF NOT EXISTS net_networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    bridge TEXT NOT NULL,
    internal INTEGER NOT NULL,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS net_leases (
    network_id TEXT NOT NULL,
    address TEXT NOT NULL,
    container_id TEXT NOT NULL,
    PRIMARY KEY (network_id, address)
);
CREATE TABLE IF NOT EXISTS net_endpoints (
    container_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    host_if TEXT NOT NULL,
    default_route INTEGER NOT NULL,
    info TEXT NOT NULL,
    ipv4 TEXT,
    ipv6 TEXT,
    PRIMARY KEY (container_id, network_id)
);
CREATE TABLE IF NOT EXISTS net_names (
    network_id TEXT NOT NULL,
    name TEXT NOT NULL,
    container_id TEXT NOT NULL,
    PRIMARY KEY (network_id, name, container_id)
);
CREATE TABLE IF NOT EXISTS net_ports (
    container_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    target_ip TEXT NOT NULL,
    target_ip6 TEXT,
    container_port INTEGER NOT NULL,
    PRIMARY KEY (protocol, host_ip, host_port)
);
CREATE TABLE IF NOT EXISTS net_sandboxes (
    container_id TEXT PRIMARY KEY,
    path TEXT NOT NULL
)
"""


def ensure_schema(metadata: Metadata) -> None:
    metadata.ensure_schema("network", SCHEMA_VERSION, _DDL)


def network_to_json(info: NetworkInfo) -> str:
    return json.dumps({
        "id": info.id, "name": info.name, "driver": info.driver, "bridge": info.bridge,
        "internal": info.internal, "enable_ipv6": info.enable_ipv6,
        "ipam": [{"subnet": p.subnet, "gateway": p.gateway, "ip_range": p.ip_range}
                 for p in info.ipam],
        "mtu": info.mtu, "labels": dict(info.labels), "created_at": info.created_at,
    })


def network_from_row(row: sqlite3.Row, containers: tuple[str, ...] = ()) -> NetworkInfo:
    d = json.loads(row["info"])
    return NetworkInfo(
        id=d["id"], name=d["name"], driver=d["driver"], bridge=d["bridge"],
        internal=d["internal"], enable_ipv6=d["enable_ipv6"],
        ipam=tuple(IpamPool(**p) for p in d["ipam"]), mtu=d["mtu"], labels=d["labels"],
        created_at=d["created_at"], containers=containers,
    )


def endpoint_to_json(info: EndpointInfo) -> str:
    return json.dumps({
        "network": info.network, "network_id": info.network_id, "interface": info.interface,
        "ipv4_address": info.ipv4_address, "ipv6_address": info.ipv6_address,
        "mac_address": info.mac_address, "gateway": info.gateway,
        "aliases": list(info.aliases),
    })


def endpoint_from_row(row: sqlite3.Row) -> EndpointInfo:
    d = json.loads(row["info"])
    d["aliases"] = tuple(d["aliases"])
    return EndpointInfo(**d)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointRecord:
    """An endpoint as stored: what the API shows plus what teardown needs."""

    container_id: str
    info: EndpointInfo
    host_if: str
    default_route: bool


def endpoint_records(metadata: Metadata, *, container_id: str | None = None,
                     network_id: str | None = None) -> list[EndpointRecord]:
    clauses, params = [], []
    if container_id is not None:
        clauses.append("container_id = ?")
        params.append(container_id)
    if network_id is not None:
        clauses.append("network_id = ?")
        params.append(network_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = metadata.query(f"SELECT * FROM net_endpoints {where} ORDER BY rowid", tuple(params))
    return [EndpointRecord(container_id=r["container_id"], info=endpoint_from_row(r),
                           host_if=r["host_if"], default_route=bool(r["default_route"]))
            for r in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortRecord:
    container_id: str
    protocol: str
    host_ip: str
    host_port: int
    target_ip: str
    target_ip6: str | None
    container_port: int


def port_records(metadata: Metadata, *, container_id: str | None = None) -> list[PortRecord]:
    if container_id is None:
        rows = metadata.query("SELECT * FROM net_ports ORDER BY rowid")
    else:
        rows = metadata.query("SELECT * FROM net_ports WHERE container_id = ? ORDER BY rowid",
                              (container_id,))
    return [PortRecord(container_id=r["container_id"], protocol=r["protocol"],
                       host_ip=r["host_ip"], host_port=r["host_port"], target_ip=r["target_ip"],
                       target_ip6=r["target_ip6"], container_port=r["container_port"])
            for r in rows]
