"""Where the engine keeps things, and its tunables.

Defaults: state root ``/var/lib/stack``, run dir ``/run/stack``. Both, and the
address pool, are overridable (environment ``STACK_ROOT``, ``STACK_RUN_DIR``,
``STACK_ADDRESS_POOL``) so tests run with their own temp dirs and pool.

Layout under the state root (each part owns its folder):
    metadata.db            SQLite (WAL), one table set per part
    images/blobs/sha256/   content-addressed blobs
    images/layers/<chain>/ unpacked layers (overlay lowerdirs)
    containers/<id>/       bundle (config.json), rootfs upper/work, logs, hosts files
    volumes/<name>/_data   named volumes
Layout under the run dir (tmpfs; lost on reboot):
    runc/                  runc --root
    conmon/<id>/           conmon pid, exit and control files
    netns/<id>             bind-mounted network namespaces
    stackd.sock            the daemon's socket
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_STATE_ROOT = Path("/var/lib/stack")
DEFAULT_RUN_DIR = Path("/run/stack")
# A /16 carved into /24 networks; podman-like private range, far from Docker's 172.17/16.
DEFAULT_ADDRESS_POOL = "10.89.0.0/16"
DEFAULT_POOL_PREFIX = 24


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    state_root: Path = DEFAULT_STATE_ROOT
    run_dir: Path = DEFAULT_RUN_DIR
    address_pool: str = DEFAULT_ADDRESS_POOL
    pool_prefix: int = DEFAULT_POOL_PREFIX
    runtime: str = "runc"
    conmon: str = "conmon"
    insecure_registries: tuple[str, ...] = field(default_factory=tuple)
    # Our nftables table (inet family); tests use a unique one per engine.
    nft_table: str = "stack"
    # Upstream resolvers for the embedded DNS ("ip" or "ip:port"); empty: the host's.
    dns_upstream: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineConfig:
        env = os.environ if environ is None else environ
        insecure = tuple(x for x in env.get("STACK_INSECURE_REGISTRIES", "").split(",") if x)
        return cls(
            state_root=Path(env.get("STACK_ROOT", str(DEFAULT_STATE_ROOT))),
            run_dir=Path(env.get("STACK_RUN_DIR", str(DEFAULT_RUN_DIR))),
            address_pool=env.get("STACK_ADDRESS_POOL", DEFAULT_ADDRESS_POOL),
            pool_prefix=int(env.get("STACK_POOL_PREFIX", str(DEFAULT_POOL_PREFIX))),
            runtime=env.get("STACK_RUNTIME", "runc"),
            conmon=env.get("STACK_CONMON", "conmon"),
            insecure_registries=insecure,
            nft_table=env.get("STACK_NFT_TABLE", "stack"),
            dns_upstream=tuple(x for x in env.get("STACK_DNS_UPSTREAM", "").split(",") if x),
        )

    @property
    def metadata_db(self) -> Path:
        return self.state_root / "metadata.db"

    @property
    def images_dir(self) -> Path:
        return self.state_root / "images"

    @property
    def containers_dir(self) -> Path:
        return self.state_root / "containers"

    @property
    def volumes_dir(self) -> Path:
        return self.state_root / "volumes"

    @property
    def runc_root(self) -> Path:
        return self.run_dir / "runc"

    @property
    def conmon_dir(self) -> Path:
        return self.run_dir / "conmon"

    @property
    def netns_dir(self) -> Path:
        return self.run_dir / "netns"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "stackd.sock"
