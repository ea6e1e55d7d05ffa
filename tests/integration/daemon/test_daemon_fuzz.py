"""Schemathesis against a test stackd, driven by schemas/openapi.json: no 5xx, no crash,
every response as documented.

Bounded: MAX_EXAMPLES per operation, operations that would reach outside the test
(registries, host paths, bridges) or never end (follow streams) are left out.
Requests go over TLS TCP on 127.0.0.1 with a client certificate.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from runtime.config import EngineConfig
from runtime.daemon.openapi import DOCUMENT_PATH
from tests.integration.daemon.pki import make_pki
from tests.integration.daemon.stackd_harness import StackdProcess, cleanup_engine

MAX_EXAMPLES = 25
TEST_ADDRESS_POOL = "10.199.0.0/16"  # as tests/conftest.py
# Reach outside the test (registries, files anywhere on the host, bridges and nftables),
# or stream until the client goes away.
EXCLUDED = {
    "image_pull", "image_push", "image_build", "image_import", "image_load", "image_save",
    "image_login", "image_logout", "network_create", "network_connect", "network_disconnect",
    "events", "container_logs", "container_wait",
}

schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT_PATH.read_text()))


class FuzzTarget:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="stk-fz-"))
        self.config = EngineConfig(state_root=self.tmp / "root", run_dir=self.tmp / "run",
                                   address_pool=TEST_ADDRESS_POOL)
        self.pki = make_pki(self._mkdir("pki"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base_url = f"https://127.0.0.1:{port}"
        self.daemon = StackdProcess(self.config, self.tmp)
        self.daemon.start("-H", f"unix://{self.config.socket_path}",
                          "-H", f"tcp://127.0.0.1:{port}",
                          "--tlscacert", str(self.pki["ca"]), "--tlscert", str(self.pki["server"]),
                          "--tlskey", str(self.pki["server_key"]), "--log-level", "warning")

    def _mkdir(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir()
        return path

    def close(self) -> None:
        try:
            self.daemon.client.close()
            status = self.daemon.stop()
            assert status == 0, f"stackd ended with {status}: {self.daemon.log()}"
            cleanup_engine(self.config, self.tmp)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def target() -> Iterator[FuzzTarget]:
    fuzz = FuzzTarget()
    try:
        yield fuzz
    finally:
        fuzz.close()


@pytest.mark.root
@pytest.mark.timeout(300)
@schema.exclude(operation_id=sorted(EXCLUDED)).parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_fuzz(case: schemathesis.Case, target: FuzzTarget) -> None:
    case.call_and_validate(
        base_url=target.base_url,
        cert=(str(target.pki["client"]), str(target.pki["client_key"])),
        verify=str(target.pki["ca"]), timeout=30,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])
    assert target.daemon.proc is not None and target.daemon.proc.poll() is None, \
        f"stackd died: {target.daemon.log()}"
