"""`stack image build` end to end (in-process engine on the test state root)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.api import ImageInfo
from runtime.config import EngineConfig

pytestmark = pytest.mark.root


def _stack(args: list[str], engine_config: EngineConfig, *, cwd: Path,
           stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "STACK_ENGINE": "local", "STACK_ROOT": str(engine_config.state_root),
           "STACK_RUN_DIR": str(engine_config.run_dir),
           "STACK_ADDRESS_POOL": engine_config.address_pool}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=cwd,
                          env=env, input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def test_build_tag_cache_and_error_output(engine_config: EngineConfig, busybox_image: ImageInfo,
                                          short_tmp: Path) -> None:
    context = short_tmp / "ctx"
    context.mkdir()
    (context / "hello.txt").write_text("hi\n")
    (context / "build.Dockerfile").write_text(
        "FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\nLABEL a=b\n")
    args = ["image", "build", "-t", "cli:1", "-t", "cli:2", "-f", "build.Dockerfile",
            "--label", "by=cli", "--build-arg", "UNUSED=1", "."]
    first = _stack(args, engine_config, cwd=context)
    assert first.returncode == 0, first.stderr
    image_id = first.stdout.strip()
    assert image_id.startswith("sha256:")
    assert "#3 [3/4] RUN /bin/sh -c cat /hello.txt\n#3 hi\n" in first.stderr
    assert "build args not consumed by any ARG: UNUSED" in first.stderr

    again = _stack([*args[:-1], "-q", "."], engine_config, cwd=context)
    assert (again.returncode, again.stdout.strip(), again.stderr) == (0, image_id, "")
    verbose = _stack(args, engine_config, cwd=context)
    assert "#3 CACHED" in verbose.stderr and "#3 hi" not in verbose.stderr

    listing = _stack(["image", "ls"], engine_config, cwd=context)
    assert "cli " in listing.stdout and " 1 " in listing.stdout and " 2 " in listing.stdout

    failing = _stack(["image", "build", "-f", "-", "."], engine_config, cwd=context,
                     stdin="FROM busybox\n\nRUN echo oops && false\n")
    assert failing.returncode == 1
    assert "#2 oops" in failing.stderr
    assert ("error: Dockerfile:3: RUN echo oops && false failed with exit code 1; last output:\n"
            "  oops\n") in failing.stderr
