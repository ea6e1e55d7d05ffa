"""A parsed Dockerfile -> the stages to build, in order.

Splits the instructions at each FROM, resolves the global ARGs (those before
the first FROM) with ``--build-arg`` values and the automatic platform ARGs,
expands each FROM, names stages (``AS name``, case-insensitive), and keeps
only the stages the target needs: its base chain and every ``COPY --from`` /
``RUN --mount=from=`` it refers to, transitively.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from runtime.errors import InvalidArgument, NotFound
from runtime.images.build.parser import Dockerfile, Instruction, key_values
from runtime.images.build.words import expand, expand_words

# Usable with --build-arg without an ARG line; never recorded in the image history.
PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})
PLATFORM_ARGS = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                 "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9._-]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    index: int
    name: str  # lower case; "" when unnamed
    base: str  # the expanded FROM argument: an image reference, a stage name, or "scratch"
    base_stage: int | None  # index of the stage this one starts from
    platform: str  # the expanded --platform, or ""
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]  # after the FROM

    @property
    def label(self) -> str:
        return self.name or str(self.index)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildPlan:
    dockerfile: Dockerfile
    global_args: Mapping[str, str]  # ARGs before the first FROM that have a value
    global_declared: frozenset[str]  # every ARG before the first FROM
    stages: tuple[Stage, ...]
    target: int  # index of the stage whose result is the image
    order: tuple[int, ...]  # stages to build, dependencies first


def platform_args(*, target: str, build: str) -> dict[str, str]:
    """TARGETPLATFORM=linux/arm64/v8, TARGETOS=linux, ... for both platforms."""
    out: dict[str, str] = {}
    for prefix, value in (("TARGET", target), ("BUILD", build)):
        parts = [*value.split("/"), "", ""]
        out[f"{prefix}PLATFORM"] = value
        out[f"{prefix}OS"] = parts[0]
        out[f"{prefix}ARCH"] = parts[1]
        out[f"{prefix}VARIANT"] = parts[2]
    return out


def stage_reference(value: str, stages: tuple[Stage, ...], *, before: int) -> int | None:
    """The stage a ``--from=`` or FROM names (by name or index, defined before ``before``)."""
    lowered = value.lower()
    for stage in stages[:before]:
        if stage.name and stage.name == lowered:
            return stage.index
    if value.isdigit() and int(value) < before:
        return int(value)
    return None


def _from_dependencies(instruction: Instruction) -> list[str]:
    refs = []
    if instruction.command in ("COPY", "ADD"):
        value = instruction.flag("from")
        if value:
            refs.append(value)
    if instruction.command == "RUN":
        for mount in instruction.flag_all("mount"):
            for field in mount.split(","):
                key, _, val = field.partition("=")
                if key.strip() == "from" and val:
                    refs.append(val.strip())
    return refs


def make_plan(dockerfile: Dockerfile, *, build_args: Mapping[str, str], target: str = "",
              platform: str, build_platform: str) -> BuildPlan:
    """Stages and global args; ``InvalidArgument`` / ``NotFound`` name ``Dockerfile:line``."""
    escape = dockerfile.escape
    name = dockerfile.name
    automatic = platform_args(target=platform, build=build_platform)
    global_args: dict[str, str] = dict(automatic)
    declared: set[str] = set()
    index = 0
    instructions = dockerfile.instructions
    while index < len(instructions) and instructions[index].command != "FROM":
        instruction = instructions[index]
        if instruction.command != "ARG":
            raise InvalidArgument(f"{dockerfile.where(instruction)}: no FROM before "
                                  f"{instruction.command}: a Dockerfile starts with FROM "
                                  "(only ARG may come before it)")
        for key, raw in key_values(instruction, escape=escape, name=name):
            declared.add(key)
            if key in build_args:
                global_args[key] = build_args[key]
            elif raw is not None:
                global_args[key] = expand(raw, global_args, escape=escape)
        index += 1
    if index >= len(instructions):
        raise InvalidArgument(f"{name}: no FROM instruction: nothing to build")

    stages: list[Stage] = []
    while index < len(instructions):
        from_instruction = instructions[index]
        body_end = index + 1
        while body_end < len(instructions) and instructions[body_end].command != "FROM":
            body_end += 1
        words = expand_words(from_instruction.rest, global_args, escape=escape)
        where = dockerfile.where(from_instruction)
        if len(words) == 3 and words[1].lower() == "as":
            stage_name = words[2].lower()
            if not _STAGE_NAME.match(stage_name):
                raise InvalidArgument(f'{where}: invalid stage name "{words[2]}": use letters, '
                                      "digits, '.', '_' and '-', starting with a letter")
            if any(s.name == stage_name for s in stages):
                raise InvalidArgument(f'{where}: duplicate stage name "{stage_name}"')
        elif len(words) == 1:
            stage_name = ""
        else:
            raise InvalidArgument(f"{where}: FROM takes an image and optionally AS name: "
                                  f"{from_instruction.rest!r}")
        base = words[0]
        base_stage = stage_reference(base, tuple(stages), before=len(stages))
        if base_stage is not None and base.isdigit():
            base_stage = None  # FROM takes names, not indexes
        platform_flag = from_instruction.flag("platform")
        stage_platform = expand(platform_flag, global_args, escape=escape) \
            if platform_flag else ""
        stages.append(Stage(index=len(stages), name=stage_name, base=base,
                            base_stage=base_stage, platform=stage_platform,
                            from_instruction=from_instruction,
                            instructions=instructions[index + 1:body_end]))
        index = body_end

    frozen = tuple(stages)
    if target:
        wanted = [s.index for s in frozen if s.name == target.lower()]
        if not wanted:
            raise NotFound(f'{name}: target stage "{target}" could not be found')
        target_index = wanted[0]
    else:
        target_index = len(frozen) - 1

    order: list[int] = []
    visiting: set[int] = set()

    def visit(i: int) -> None:
        if i in order or i in visiting:
            return
        visiting.add(i)
        stage = frozen[i]
        if stage.base_stage is not None:
            visit(stage.base_stage)
        for instruction in stage.instructions:
            for ref in _from_dependencies(instruction):
                ref = expand(ref, global_args, escape=escape)
                dep = stage_reference(ref, frozen, before=i)
                if dep is None and ref.isdigit():
                    raise InvalidArgument(f"{dockerfile.where(instruction)}: stage {ref} is not "
                                          "defined before this one")
                if dep is not None:
                    visit(dep)
        order.append(i)

    visit(target_index)
    return BuildPlan(dockerfile=dockerfile,
                     global_args={k: v for k, v in global_args.items()
                                  if k in declared or k in automatic},
                     global_declared=frozenset(declared), stages=frozen, target=target_index,
                     order=tuple(order))
