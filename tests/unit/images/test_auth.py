"""Credentials files (ours and Docker's) and auth challenges."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from runtime.images import auth


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STACK_AUTH_FILE", str(tmp_path / "stack" / "auth.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path


def test_parse_challenge() -> None:
    assert auth.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"') == ("bearer", {
            "realm": "https://auth.docker.io/token", "service": "registry.docker.io",
            "scope": "repository:library/busybox:pull"})
    assert auth.parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_store_lookup_remove(files: Path) -> None:
    assert auth.lookup("host:5000") is None
    path = auth.store("host:5000", auth.Credentials(username="u", password="p:w"))
    assert path == files / "stack" / "auth.json"
    assert path.stat().st_mode & 0o777 == 0o600
    doc = json.loads(path.read_text())
    assert base64.b64decode(doc["auths"]["host:5000"]["auth"]) == b"u:p:w"
    assert auth.lookup("host:5000") == auth.Credentials(username="u", password="p:w")
    assert auth.remove("host:5000") is True
    assert auth.lookup("host:5000") is None


def test_docker_config_is_read(files: Path) -> None:
    (files / "docker").mkdir()
    (files / "docker" / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
        "https://reg.example.com": {"auth": base64.b64encode(b"me:x").decode()},
        "tok.example.com": {"identitytoken": "abc"}}}))
    assert auth.lookup("docker.io") == auth.Credentials(username="hub", password="pw")
    assert auth.lookup("reg.example.com") == auth.Credentials(username="me", password="x")
    assert auth.lookup("tok.example.com") == auth.Credentials(username="<token>",
                                                              password="abc")
    # Ours win over Docker's.
    auth.store("docker.io", auth.Credentials(username="mine", password="pw2"))
    assert auth.lookup("docker.io") == auth.Credentials(username="mine", password="pw2")
