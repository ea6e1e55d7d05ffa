"""Image references are parsed and normalised like Docker's."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.reference import parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), [
    ("busybox", "docker.io", "library/busybox", "latest", None),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
    ("user/app", "docker.io", "user/app", "latest", None),
    ("docker.io/busybox", "docker.io", "library/busybox", "latest", None),
    ("index.docker.io/library/busybox:x", "docker.io", "library/busybox", "x", None),
    ("host:5000/a/b:tag", "host:5000", "a/b", "tag", None),
    ("host:5000/a/b", "host:5000", "a/b", "latest", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("127.0.0.1:5000/x/y:1", "127.0.0.1:5000", "x/y", "1", None),
    ("registry.example.com/a", "registry.example.com", "a", "latest", None),
    (f"name@{DIGEST}", "docker.io", "library/name", None, DIGEST),
    (f"host:5000/a:t@{DIGEST}", "host:5000", "a", "t", DIGEST),
    ("my_app/x-y.z:v1.0-rc_1", "docker.io", "my_app/x-y.z", "v1.0-rc_1", None),
])
def test_parse(text: str, registry: str, repository: str, tag: str | None,
               digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag,
                                                                   digest)


def test_forms() -> None:
    ref = parse_reference("busybox")
    assert ref.tagged() == "docker.io/library/busybox:latest"
    assert ref.familiar() == "busybox:latest"
    assert ref.api_host == "registry-1.docker.io"
    other = parse_reference("host:5000/a/b:tag")
    assert other.familiar() == "host:5000/a/b:tag"
    assert other.api_host == "host:5000"
    assert other.with_digest(DIGEST) == f"host:5000/a/b@{DIGEST}"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "empty or contains whitespace"),
    ("Busybox", "repository name must be lowercase"),
    ("a b", "empty or contains whitespace"),
    ("busybox:bad/tag:x", "bad registry \"busybox:bad\""),
    ("busybox@sha256:abc", "bad digest"),
    ("busybox:", "bad tag"),
    ("host:5000/-a", "repository name must be lowercase"),
])
def test_invalid(text: str, problem: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_reference(text)
    assert info.value.message.startswith(f'invalid image reference "{text}": ')
    assert problem in info.value.message
