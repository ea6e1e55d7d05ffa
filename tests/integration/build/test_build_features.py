"""Dockerfile features end to end: whiteouts, ONBUILD, cache mounts, ADD archives, --chown."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from runtime.api import BuildProgress, ImageInfo
from runtime.engine import LocalEngine
from runtime.errors import InvalidArgument
from runtime.images.build.rootview import RootView

pytestmark = pytest.mark.root


def _context(short_tmp: Path, files: dict[str, str] | None = None) -> Path:
    context = short_tmp / "ctx"
    context.mkdir(exist_ok=True)
    for name, content in (files or {}).items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return context


def _last_layer_names(engine: LocalEngine, info: ImageInfo) -> list[str]:
    record = engine.images.records.find(info.id)
    assert record is not None
    with engine.images.blobs.open(record.layers[-1].digest) as blob, \
            tarfile.open(fileobj=gzip.GzipFile(fileobj=blob), mode="r|") as tar:
        return [m.name for m in tar]


def test_deletions_become_oci_whiteouts(engine: LocalEngine, busybox_image: ImageInfo,
                                        short_tmp: Path) -> None:
    text = ("FROM busybox\n"
            "RUN mkdir /data && touch /data/a /data/b\n"
            "RUN rm /bin/vi && rm -rf /data && mkdir /data && echo new > /data/only\n")
    info = engine.image_build(str(_context(short_tmp)), dockerfile_text=text)
    names = _last_layer_names(engine, info)
    assert "bin/.wh.vi" in names
    assert "data/.wh..wh..opq" in names
    assert not any(n.startswith(("proc", "sys", "dev", "etc")) for n in names), names
    view = RootView(engine.images.layer_dirs(info.id))
    assert view.lookup("/bin/vi") is None
    assert view.lookup("/bin/sh") is not None
    assert view.listdir("/data") == ["only"]


def test_onbuild_triggers_run_in_the_child(engine: LocalEngine, busybox_image: ImageInfo,
                                           short_tmp: Path) -> None:
    context = _context(short_tmp, {"payload.txt": "from the child's context\n"})
    engine.image_build(str(context), tags=["onbuild-base:1"],
                       dockerfile_text="FROM busybox\nONBUILD COPY payload.txt /payload.txt\n")
    child = engine.image_build(str(context), dockerfile_text="FROM onbuild-base:1\n")
    view = RootView(engine.images.layer_dirs(child.id))
    assert view.read("/payload.txt") == b"from the child's context\n"


def test_cache_mount_persists_and_is_not_in_the_layer(
        engine: LocalEngine, busybox_image: ImageInfo, short_tmp: Path) -> None:
    text = ("FROM busybox\n"
            "RUN --mount=type=cache,target=/cache echo x >> /cache/runs "
            "&& wc -l < /cache/runs > /count\n")
    context = _context(short_tmp)
    engine.image_build(str(context), dockerfile_text=text)
    info = engine.image_build(str(context), dockerfile_text=text, no_cache=True)
    view = RootView(engine.images.layer_dirs(info.id))
    assert view.read("/count") == b"2\n"
    assert not any(n.startswith("cache") for n in _last_layer_names(engine, info))


def test_add_unpacks_a_local_archive_and_copy_chowns(
        engine: LocalEngine, busybox_image: ImageInfo, short_tmp: Path) -> None:
    context = _context(short_tmp, {"plain.txt": "plain\n"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"inside the archive\n"
        member = tarfile.TarInfo("pkg/readme.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    (context / "pkg.tar.gz").write_bytes(buf.getvalue())
    text = ("FROM busybox\n"
            "RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd\n"
            "ADD pkg.tar.gz /opt/\n"
            "COPY --chown=app plain.txt /home/app/\n"
            "RUN test \"$(stat -c %u:%g /home/app/plain.txt)\" = 1234:1234 "
            "&& cat /opt/pkg/readme.txt\n")
    reports: list[BuildProgress] = []
    engine.image_build(str(context), dockerfile_text=text, progress=reports.append)
    assert "inside the archive" in [r.text for r in reports if r.status == "output"]


def test_add_from_a_url_is_a_clear_error(engine: LocalEngine, busybox_image: ImageInfo,
                                         short_tmp: Path) -> None:
    with pytest.raises(InvalidArgument) as failure:
        engine.image_build(str(_context(short_tmp)),
                           dockerfile_text="FROM busybox\nADD https://example.com/x /x\n")
    assert failure.value.message.startswith('Dockerfile:2: ADD from a URL ("https://example.com/x")'
                                            " is not supported")


def test_target_shell_user_heredoc_and_args(engine: LocalEngine, busybox_image: ImageInfo,
                                            short_tmp: Path) -> None:
    text = """\
ARG BASE=busybox
FROM ${BASE} AS base
ARG BASE
ARG TARGETARCH
SHELL ["/bin/sh", "-ec"]
WORKDIR /work/dir
RUN <<EOF
echo "base=$BASE arch=$TARGETARCH" > info
pwd >> info
EOF
USER 65534
RUN id -u > /tmp/uid
WORKDIR /owned
RUN touch ok

FROM scratch AS never
COPY --from=base /nothing /
"""
    reports: list[BuildProgress] = []
    info = engine.image_build(str(_context(short_tmp)), dockerfile_text=text, target="base",
                              progress=reports.append)
    assert info.config.user == "65534" and info.config.working_dir == "/owned"
    view = RootView(engine.images.layer_dirs(info.id))
    arch = engine.image_inspect("busybox").architecture
    assert view.read("/work/dir/info") == f"base=busybox arch={arch}\n/work/dir\n".encode()
    assert view.read("/tmp/uid") == b"65534\n"
    assert view.read("/owned/ok") == b""  # WORKDIR made it as USER, so USER could write
    assert not [r for r in reports if "never" in r.text]


def test_heredoc_scripts_run_and_their_content_is_in_the_cache_key(
        engine: LocalEngine, busybox_image: ImageInfo, short_tmp: Path) -> None:
    context = _context(short_tmp)
    text = "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho \"ran $0 {}\" > /ran\nEOF\n"
    first = engine.image_build(str(context), dockerfile_text=text.format(1))
    assert RootView(engine.images.layer_dirs(first.id)).read("/ran") == b"ran /dev/pipes/EOF 1\n"
    reports: list[BuildProgress] = []
    second = engine.image_build(str(context), dockerfile_text=text.format(2),
                                progress=reports.append)
    assert not [r for r in reports if r.status == "cached"]
    assert RootView(engine.images.layer_dirs(second.id)).read("/ran") == b"ran /dev/pipes/EOF 2\n"


def test_proxy_args_reach_run_without_arg_and_stay_out_of_history(
        engine: LocalEngine, busybox_image: ImageInfo, short_tmp: Path) -> None:
    text = "FROM busybox\nRUN echo \"proxy=$HTTP_PROXY\" > /proxy\n"
    info = engine.image_build(str(_context(short_tmp)), dockerfile_text=text,
                              build_args={"HTTP_PROXY": "http://127.0.0.1:3128"})
    view = RootView(engine.images.layer_dirs(info.id))
    assert view.read("/proxy") == b"proxy=http://127.0.0.1:3128\n"
    history = " ".join(h.created_by for h in engine.image_history(info.id))
    assert "3128" not in history


def test_cache_mount_uid_lets_a_user_write(engine: LocalEngine, busybox_image: ImageInfo,
                                           short_tmp: Path) -> None:
    text = ("FROM busybox\nUSER 1000\n"
            "RUN --mount=type=cache,target=/tmp/c,uid=1000,mode=700 touch /tmp/c/ok\n")
    engine.image_build(str(_context(short_tmp)), dockerfile_text=text)


def test_bind_mount_from_a_stage(engine: LocalEngine, busybox_image: ImageInfo,
                                 short_tmp: Path) -> None:
    text = ("FROM busybox AS build\nRUN mkdir /out && echo artefact > /out/a\n"
            "FROM busybox\n"
            "RUN --mount=type=bind,from=build,source=/out,target=/in cp /in/a /a\n")
    info = engine.image_build(str(_context(short_tmp)), dockerfile_text=text)
    view = RootView(engine.images.layer_dirs(info.id))
    assert view.read("/a") == b"artefact\n"
    assert view.lookup("/in") is None
