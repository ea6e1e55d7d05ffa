"""Shared test set-up.

- ``root`` marker: the test needs root, runc, conmon, namespaces. Outside CI a
  missing prerequisite skips it; with CI=true it FAILS (CI must run them).
- ``engine_config``: an EngineConfig with its own temp state root, run dir and
  address pool (10.199.0.0/16), so tests never touch /var/lib/stack or the
  user's networks.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.config import EngineConfig

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT_TOOLS = ("runc", "conmon", "nft")
TEST_ADDRESS_POOL = "10.199.0.0/16"


def missing_root_prerequisites() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    missing += [t for t in ROOT_TOOLS if shutil.which(t) is None]
    return missing


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") is None:
        return
    missing = missing_root_prerequisites()
    if not missing:
        return
    message = f"needs {', '.join(missing)}"
    if IN_CI:
        pytest.fail(f"CI=true and a prerequisite is missing: {message}", pytrace=False)
    pytest.skip(message)  # allowed: only outside CI


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir (unix socket paths must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="stk-"))
    try:
        yield path
    finally:
        # Every mount under the dir (the path itself need not be one), deepest first.
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for target in sorted((m for m in mounts if m == str(path) or m.startswith(f"{path}/")),
                             key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def engine_config(short_tmp: Path) -> Iterator[EngineConfig]:
    # A table of its own: an engine re-renders its whole nftables table, so two test
    # engines sharing one would wipe each other's rules.
    table = f"stk_t_{secrets.token_hex(4)}"
    try:
        yield EngineConfig(
            state_root=short_tmp / "root",
            run_dir=short_tmp / "run",
            address_pool=TEST_ADDRESS_POOL,
            pool_prefix=24,
            nft_table=table,
        )
    finally:
        if os.geteuid() == 0:
            _remove_leftover_bridges(short_tmp / "root" / "metadata.db")
        if shutil.which("nft") and os.geteuid() == 0:
            subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True,
                           check=False)


def _remove_leftover_bridges(db: Path) -> None:
    """Bridges of networks a test left behind (its DNS process exits with the database)."""
    import sqlite3
    from contextlib import closing

    if not db.exists():
        return
    try:
        with closing(sqlite3.connect(db)) as conn:
            bridges = [r[0] for r in conn.execute("SELECT bridge FROM net_networks")]
    except sqlite3.Error:
        return
    if bridges:
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            for name in bridges:
                for index in ipr.link_lookup(ifname=name):
                    ipr.link("del", index=index)
