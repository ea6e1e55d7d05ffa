"""The real `stack container ...` CLI in a subprocess: -it under a pty, exit codes, kill -9."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from runtime.api import ContainerState
from runtime.config import EngineConfig
from runtime.containers.service import ContainerService

pytestmark = pytest.mark.root


def _env(config: EngineConfig) -> dict[str, str]:
    return {**os.environ, "STACK_ENGINE": "local", "STACK_ROOT": str(config.state_root),
            "STACK_RUN_DIR": str(config.run_dir), "STACK_ADDRESS_POOL": config.address_pool}


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side of the pty closed
                break
            if not chunk:
                break
            out += chunk
    return out


def test_run_it_gives_a_shell_under_a_pty(containers: ContainerService,
                                          engine_config: EngineConfig) -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(["stack", "container", "run", "-it", "--name", "tty",
                             "--network", "none", "busybox", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, env=_env(engine_config),
                            start_new_session=True)
    os.close(slave)
    try:
        seen = _read_until(master, b"# ", timeout=15)
        assert b"# " in seen, seen
        os.write(master, b"tty; echo hi; exit 3\n")
        seen += _read_until(master, b"\x00never", timeout=10)
        assert proc.wait(timeout=15) == 3
        assert b"hi\r\n" in seen and b"/dev/pts/0" in seen, seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    info = containers.container_inspect("tty")
    assert (info.state, info.exit_code) == (ContainerState.EXITED, 3)


def test_run_exits_with_the_container_code_and_rm(containers: ContainerService,
                                                  engine_config: EngineConfig) -> None:
    proc = subprocess.run(["stack", "container", "run", "--rm", "--network", "none", "busybox",
                           "sh", "-c", "echo out; echo err >&2; exit 42"],
                          capture_output=True, env=_env(engine_config), timeout=60, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (42, b"out\n", b"err\n")
    assert containers.container_list(all=True) == []


def test_killing_the_cli_leaves_the_container_running(containers: ContainerService,
                                                      engine_config: EngineConfig) -> None:
    proc = subprocess.Popen(["stack", "container", "run", "--name", "bg", "--network", "none",
                             "busybox", "sh", "-c", "echo up; sleep 60"],
                            stdout=subprocess.PIPE, env=_env(engine_config))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"up\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert containers.container_inspect("bg").state == ContainerState.RUNNING
    out = subprocess.run(["stack", "container", "ls", "--format", "json"], capture_output=True,
                         env=_env(engine_config), check=True, timeout=60).stdout
    assert b'"name": "bg"' in out and b'"state": "running"' in out


def test_run_i_pipes_stdin_and_survives_a_fast_exit(containers: ContainerService,
                                                    engine_config: EngineConfig) -> None:
    piped = subprocess.run(["stack", "container", "run", "-i", "--rm", "--network", "none",
                            "busybox", "sh", "-c", "cat; exit 2"], input=b"one\ntwo\n",
                           capture_output=True, env=_env(engine_config), timeout=60, check=False)
    assert (piped.returncode, piped.stdout) == (2, b"one\ntwo\n")
    fast = subprocess.run(["stack", "container", "run", "-i", "--rm", "--network", "none",
                           "busybox", "echo", "fast"], stdin=subprocess.DEVNULL,
                          capture_output=True, env=_env(engine_config), timeout=60, check=False)
    assert (fast.returncode, fast.stdout.count(b"fast")) == (0, 1), fast


def test_exec_it_under_a_pty(containers: ContainerService, engine_config: EngineConfig) -> None:
    from tests.integration.containers.harness import busybox

    containers.container_create(busybox("host", "sleep", "60"))
    containers.container_start("host")
    master, slave = os.openpty()
    proc = subprocess.Popen(["stack", "container", "exec", "-it", "-e", "GREETING=hey", "host",
                             "sh"], stdin=slave, stdout=slave, stderr=slave,
                            env=_env(engine_config), start_new_session=True)
    os.close(slave)
    try:
        seen = _read_until(master, b"# ", timeout=15)
        os.write(master, b"tty; echo $GREETING; exit 4\n")
        seen += _read_until(master, b"\x00never", timeout=10)
        assert proc.wait(timeout=15) == 4
        # runc puts our terminal in raw mode; if it has not yet, the pty adds a \r.
        assert re.search(rb"hey\r+\n", seen) and b"/dev/pts/" in seen, seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_cp_both_ways_running_and_stopped(containers: ContainerService,
                                          engine_config: EngineConfig, short_tmp: Path) -> None:
    from tests.integration.containers.harness import busybox

    containers.container_create(busybox("cpbox", "sh", "-c",
                                        "ln -s /etc/passwd /tmp/link; sleep 60",
                                        hostname="cphost"))
    containers.container_start("cpbox")
    env = _env(engine_config)

    def cp(src: str, dst: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["stack", "container", "cp", src, dst], capture_output=True,
                              env=env, timeout=60, check=False)

    assert cp("cpbox:/etc/hostname", str(short_tmp)).returncode == 0
    assert (short_tmp / "hostname").read_text() == "cphost\n"
    (short_tmp / "in.txt").write_text("into the box")
    assert cp(str(short_tmp / "in.txt"), "cpbox:/tmp/").returncode == 0
    assert containers.container_exec("cpbox", ["cat", "/tmp/in.txt"]).stdout == b"into the box"
    deadline = time.monotonic() + 5
    while containers.container_exec("cpbox", ["test", "-L", "/tmp/link"]).exit_code != 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    refused = cp(str(short_tmp / "in.txt"), "cpbox:/tmp/link")
    assert refused.returncode == 1 and b"link" in refused.stderr
    containers.container_stop("cpbox")
    assert cp("cpbox:/tmp/in.txt", str(short_tmp / "back.txt")).returncode == 0
    assert (short_tmp / "back.txt").read_text() == "into the box"


def test_create_flags_reach_the_config(containers: ContainerService,
                                       engine_config: EngineConfig) -> None:
    proc = subprocess.run(
        ["stack", "container", "create", "--name", "flags", "--network", "none",
         "-m", "32m", "--cpus", "0.5", "--cap-drop", "ALL", "--cap-add", "CHOWN",
         "-e", "A=1", "-v", "/data", "-v", "named:/n:ro", "--tmpfs", "/t:size=1m",
         "--init", "--read-only", "-u", "1:2", "-w", "/tmp", "-l", "k=v",
         "--restart", "on-failure:3", "--entrypoint", "/bin/sh", "busybox", "-c", "true"],
        capture_output=True, env=_env(engine_config), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    c = containers.container_inspect("flags").config
    assert (c.resources.memory, c.resources.cpus) == (32 << 20, 0.5)
    assert (c.cap_drop, c.cap_add, dict(c.env), dict(c.labels)) == (
        ("ALL",), ("CHOWN",), {"A": "1"}, {"k": "v"})
    assert (c.init, c.read_only, c.user, c.working_dir) == (True, True, "1:2", "/tmp")
    assert (c.entrypoint, c.command) == (("/bin/sh",), ("-c", "true"))
    assert (c.restart.name, c.restart.max_attempts) == ("on-failure", 3)
    kinds = [(m.type, m.target, m.read_only) for m in c.mounts]
    assert kinds == [("volume", "/data", False), ("volume", "/n", True), ("tmpfs", "/t", False)]
    assert c.mounts[0].source  # the anonymous volume got its name at create
