"""TLS contexts are made once per CA source and made again when its file changes."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

import certifi
import pytest

from runtime.images.registry import tls_context


def test_made_once_per_ca_file_and_again_when_it_changes(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    shutil.copyfile(certifi.where(), ca)
    first = tls_context(str(ca), trust_env=False)
    assert tls_context(str(ca), trust_env=True) is first
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    with open(ca, "a") as f:
        f.write("\n")  # a new CA bundle dropped in while stackd runs
    second = tls_context(str(ca), trust_env=False)
    assert second is not first
    assert tls_context(str(ca), trust_env=False) is second


def test_default_context_is_made_once() -> None:
    first = tls_context(None, trust_env=False)
    assert tls_context(None, trust_env=False) is first
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname


def test_a_missing_ca_file_fails_every_time(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.crt")
    for _ in range(2):
        with pytest.raises(OSError):
            tls_context(missing, trust_env=False)
    assert not os.path.exists(missing)
