"""Stages, global ARGs and the stages a target needs."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument, NotFound
from runtime.images.build.parser import parse
from runtime.images.build.plan import make_plan

PLATFORM = {"platform": "linux/amd64", "build_platform": "linux/amd64"}

MULTI = """\
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS Build
RUN make
FROM scratch AS unused
FROM build AS test
FROM scratch
COPY --from=build /out /out
"""


def test_stages_and_order() -> None:
    plan = make_plan(parse(MULTI), build_args={}, **PLATFORM)
    assert [s.name for s in plan.stages] == ["build", "unused", "test", ""]
    assert plan.stages[0].base == "busybox:latest"
    assert plan.stages[2].base_stage == 0
    assert plan.order == (0, 3)
    assert plan.global_args["BASE"] == "busybox"
    assert plan.global_args["TARGETARCH"] == "amd64"


def test_build_args_and_target() -> None:
    plan = make_plan(parse(MULTI), build_args={"TAG": "1.36"}, target="TEST", **PLATFORM)
    assert plan.stages[0].base == "busybox:1.36"
    assert plan.target == 2 and plan.order == (0, 2)


def test_unknown_target() -> None:
    with pytest.raises(NotFound, match='target stage "nope" could not be found'):
        make_plan(parse(MULTI), build_args={}, target="nope", **PLATFORM)


def test_instruction_before_from() -> None:
    with pytest.raises(InvalidArgument, match="Dockerfile:1: no FROM before RUN"):
        make_plan(parse("RUN x\nFROM y\n"), build_args={}, **PLATFORM)


def test_duplicate_stage_name() -> None:
    with pytest.raises(InvalidArgument, match='Dockerfile:2: duplicate stage name "a"'):
        make_plan(parse("FROM x AS a\nFROM y AS A\n"), build_args={}, **PLATFORM)


def test_copy_from_index_and_mount_from() -> None:
    text = ("FROM x\nFROM y\nFROM z\nCOPY --from=0 /a /a\n"
            "RUN --mount=type=bind,from=1,target=/m true\n")
    assert make_plan(parse(text), build_args={}, **PLATFORM).order == (0, 1, 2)
