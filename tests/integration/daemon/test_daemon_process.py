"""stackd as a process: its socket, its lock, its refusals, its end, and autostart by the CLI."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.config import EngineConfig
from runtime.daemon.system import package_version
from tests.integration.daemon.stackd_harness import StackdProcess


def test_serves_version_and_info_on_a_0660_socket(stackd: StackdProcess) -> None:
    assert stackd.client.version().version == package_version()
    info = stackd.client.system_info()
    assert info.state_root == str(stackd.config.state_root)
    assert stackd.proc is not None and info.daemon_pid == stackd.proc.pid
    assert (info.containers, info.images, info.volumes) == (0, 0, 0)
    mode = stackd.config.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    assert (stackd.config.run_dir / "stackd.pid").read_text().strip() == str(stackd.proc.pid)


def test_a_second_daemon_for_the_same_run_dir_refuses(stackd: StackdProcess) -> None:
    result = subprocess.run(stackd.argv(), capture_output=True, text=True, timeout=30,
                            env=stackd.env())
    assert result.returncode == 1
    assert f"another stackd (pid {stackd.proc.pid if stackd.proc else ''}) already runs" in \
        result.stderr
    assert stackd.client.ping()


def test_plain_tcp_is_refused_with_the_reason(engine_config: EngineConfig,
                                              short_tmp: Path) -> None:
    daemon = StackdProcess(engine_config, short_tmp)
    result = subprocess.run(daemon.argv("-H", "tcp://127.0.0.1:23750"), capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "refusing to listen on tcp://127.0.0.1:23750 without TLS" in result.stderr
    result = subprocess.run(daemon.argv("-H", "tcp://127.0.0.1:23750", "--tlscert", "c",
                                        "--tlskey", "k"), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert "without client authentication" in result.stderr
    assert not engine_config.socket_path.exists()


def test_group_opens_the_socket_to_that_group(engine_config: EngineConfig,
                                              short_tmp: Path) -> None:
    import grp

    group = grp.getgrgid(1).gr_name  # "daemon" on Debian: exists, and is not ours
    daemon = StackdProcess(engine_config, short_tmp)
    try:
        daemon.start("--group", group)
        st = engine_config.socket_path.stat()
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (1, 0o660)
    finally:
        daemon.client.close()
        daemon.stop()
    result = subprocess.run(daemon.argv("--group", "no-such-group-here"), capture_output=True,
                            text=True, timeout=30, env=daemon.env())
    assert result.returncode == 1
    assert 'group "no-such-group-here" does not exist' in result.stderr


def test_sigterm_ends_it_cleanly(stackd: StackdProcess) -> None:
    assert stackd.stop() == 0
    assert not stackd.config.socket_path.exists()
    assert not (stackd.config.run_dir / "stackd.pid").exists()


def test_it_ends_itself_when_its_socket_is_removed(stackd: StackdProcess) -> None:
    assert stackd.proc is not None
    stackd.config.socket_path.unlink()
    assert stackd.proc.wait(timeout=10) == 0
    assert "was removed or replaced" in stackd.log()


def test_the_cli_starts_a_detached_daemon_when_none_answers(engine_config: EngineConfig,
                                                            short_tmp: Path) -> None:
    env = dict(os.environ, STACK_ROOT=str(engine_config.state_root),
               STACK_RUN_DIR=str(engine_config.run_dir),
               STACK_ADDRESS_POOL=engine_config.address_pool)
    env.pop("STACK_ENGINE", None)
    env.pop("STACK_HOST", None)
    pid_file = engine_config.run_dir / "stackd.pid"
    try:
        result = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "version"],
                                capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        assert f"Server: (unix://{engine_config.socket_path})" in result.stdout
        pid = int(pid_file.read_text())
        assert os.getsid(pid) == pid  # a session of its own: the CLI's Ctrl-C never reaches it
        assert (engine_config.run_dir / "stackd.log").exists()
        # A second command talks to the same daemon.
        again = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "info",
                                "--format", "json"], capture_output=True, text=True,
                               timeout=60, env=env)
        assert again.returncode == 0, again.stderr
        assert f'"daemon_pid": {pid}' in again.stdout
    finally:
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_local_escape_hatch_needs_no_daemon(engine_config: EngineConfig) -> None:
    env = dict(os.environ, STACK_ROOT=str(engine_config.state_root),
               STACK_RUN_DIR=str(engine_config.run_dir), STACK_ENGINE="local")
    env.pop("STACK_HOST", None)
    result = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "info"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "in-process (STACK_ENGINE=local)" in result.stdout
    assert not engine_config.socket_path.exists()


def test_an_explicit_host_that_does_not_answer_is_a_clear_error(short_tmp: Path) -> None:
    env = dict(os.environ, STACK_HOST=f"unix://{short_tmp}/nobody.sock")
    result = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "version"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert f"stackd at unix://{short_tmp}/nobody.sock: cannot connect" in result.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


pytestmark = pytest.mark.timeout(120)
