"""Which registries may use plain HTTP, and how login names a registry."""

from __future__ import annotations

import pytest

from runtime.images.registry import RegistryClient, is_local
from runtime.images.service import _registry_name


@pytest.mark.parametrize(("host", "local"), [
    ("localhost:5000", True), ("localhost", True), ("127.0.0.1:5000", True),
    ("127.1.2.3", True), ("[::1]:5000", True), ("registry.example.com", False),
    ("10.0.0.1:5000", False), ("localhost.example.com", False), ("127.evil.com", False),
])
def test_is_local(host: str, local: bool) -> None:
    assert is_local(host) is local


def test_plain_http_only_where_allowed() -> None:
    for registry, insecure, allowed in (("docker.io", False, False),
                                        ("reg.example.com:5000", True, True),
                                        ("reg.example.com:5000", False, False),
                                        ("127.0.0.1:5000", False, True)):
        with RegistryClient(registry, insecure=insecure) as client:
            assert client.allow_http is allowed
    with RegistryClient("docker.io") as hub:
        assert hub.host == "registry-1.docker.io"


@pytest.mark.parametrize(("text", "name"), [
    ("", "docker.io"), ("docker.io", "docker.io"), ("https://index.docker.io/v1/", "docker.io"),
    ("host:5000", "host:5000"), ("https://host:5000/", "host:5000"),
])
def test_registry_name(text: str, name: str) -> None:
    assert _registry_name(text) == name
