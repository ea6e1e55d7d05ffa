"""Shared test set-up.

- ``root`` marker: the test needs root, runc, conmon, namespaces. Outside CI a
  missing prerequisite skips it; with CI=true it FAILS (CI must run them).
- ``engine_config``: an EngineConfig with its own temp state root, run dir and
  address pool (10.199.0.0/16), so tests never touch /var/lib/stack or the
  user's networks.
"""

from __future__ import annotations

import os
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
        subprocess.run(["umount", "-R", "-l", str(path)], capture_output=True, check=False)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def engine_config(short_tmp: Path) -> EngineConfig:
    return EngineConfig(
        state_root=short_tmp / "root",
        run_dir=short_tmp / "run",
        address_pool=TEST_ADDRESS_POOL,
        pool_prefix=24,
    )
