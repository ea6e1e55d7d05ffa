"""Remote use over TCP: TLS with client certificates, or a bearer token over TLS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.config import EngineConfig
from runtime.daemon.client import HttpEngine
from runtime.daemon.tls import TlsFiles
from runtime.errors import NotFound, Unauthorized, Unavailable
from tests.integration.daemon.pki import make_pki
from tests.integration.daemon.stackd_harness import StackdProcess, cleanup_engine

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def remote(engine_config: EngineConfig, short_tmp: Path,
           pki: dict[str, Path]) -> Iterator[tuple[StackdProcess, str]]:
    daemon = StackdProcess(engine_config, short_tmp)
    address = f"tcp://127.0.0.1:{_port()}"
    token_file = short_tmp / "token"
    token_file.write_text("a-long-enough-test-token\n")
    os.chmod(token_file, 0o600)
    try:
        daemon.start("-H", f"unix://{engine_config.socket_path}", "-H", address,
                     "--tlscacert", str(pki["ca"]), "--tlscert", str(pki["server"]),
                     "--tlskey", str(pki["server_key"]))
        yield daemon, address
    finally:
        daemon.client.close()
        daemon.stop()
        cleanup_engine(engine_config, short_tmp)


def test_a_client_with_the_right_certificate_lists_containers(
        remote: tuple[StackdProcess, str], pki: dict[str, Path]) -> None:
    _, address = remote
    tls = TlsFiles(cacert=pki["ca"], cert=pki["client"], key=pki["client_key"])
    with HttpEngine(address, tls=tls) as client:
        assert client.container_list(all=True) == []
        assert client.ping()


@pytest.mark.parametrize("cert", [None, "bad"])
def test_a_client_without_a_trusted_certificate_is_refused(
        remote: tuple[StackdProcess, str], pki: dict[str, Path], cert: str | None) -> None:
    _, address = remote
    tls = TlsFiles(cacert=pki["ca"], cert=pki[cert] if cert else None,
                   key=pki[f"{cert}_key"] if cert else None)
    with HttpEngine(address, tls=tls) as client, pytest.raises(Unavailable):
        client.container_list(all=True)


def test_the_cli_talks_tls_with_h_and_tls_options(remote: tuple[StackdProcess, str],
                                                  pki: dict[str, Path]) -> None:
    _, address = remote
    env = {k: v for k, v in os.environ.items() if k not in ("STACK_ENGINE", "STACK_HOST")}
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "-H", address,
         "--tlscacert", str(pki["ca"]), "--tlscert", str(pki["client"]),
         "--tlskey", str(pki["client_key"]), "version"],
        capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert f"Server: ({address})" in result.stdout


def test_a_bearer_token_over_tls(engine_config: EngineConfig, short_tmp: Path,
                                 pki: dict[str, Path]) -> None:
    daemon = StackdProcess(engine_config, short_tmp)
    address = f"tcp://127.0.0.1:{_port()}"
    token_file = short_tmp / "token"
    token_file.write_text("a-long-enough-test-token\n")
    try:
        daemon.start("-H", f"unix://{engine_config.socket_path}", "-H", address,
                     "--tlscert", str(pki["server"]), "--tlskey", str(pki["server_key"]),
                     "--token-file", str(token_file))
        tls = TlsFiles(cacert=pki["ca"])
        with HttpEngine(address, tls=tls, token="a-long-enough-test-token") as client:
            assert client.volume_list() == []
            with pytest.raises(NotFound, match="ghost"):  # the attach upgrade carries the token
                client.container_exec_attach("ghost", ["true"])
        with HttpEngine(address, tls=tls, token="wrong") as client:
            with pytest.raises(Unauthorized, match="bearer token"):
                client.volume_list()
            with pytest.raises(Unauthorized, match="bearer token"):
                client.container_exec_attach("ghost", ["true"])
        assert daemon.client.volume_list() == []  # the local socket needs no token
    finally:
        daemon.client.close()
        daemon.stop()
        cleanup_engine(engine_config, short_tmp)
