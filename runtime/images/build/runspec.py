"""What a RUN instruction asks for: its argv and its ``--mount`` options.

- exec form runs the array as is; shell form runs ``SHELL + [text]``;
- ``RUN <<EOF`` runs the heredoc as the script (through SHELL, or directly
  when it starts with ``#!``: it is then bind-mounted at /dev/pipes/<name>
  and executed, as BuildKit does); other heredocs are appended to the
  script, so the shell feeds them to the command (``RUN cat <<EOF``);
- ``--mount=type=cache`` binds a persistent host dir (keyed by ``id``, else
  the target), ``type=tmpfs`` a tmpfs, ``type=bind`` a read-only context
  path, or with ``from=`` a copy of a path in another stage or image. Mount choices are part of the step's cache key.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runtime.api import Mount
from runtime.errors import InvalidArgument
from runtime.images.build.context import BuildContext
from runtime.images.build.parser import Instruction

PIPES = "/dev/pipes"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCommand:
    argv: tuple[str, ...]
    scripts: tuple[tuple[str, str], ...] = ()  # (path in the container, content) to mount


def run_command(instruction: Instruction, *, shell: tuple[str, ...], where: str) -> RunCommand:
    """Pure: the argv of a RUN."""
    if instruction.json_form:
        if not instruction.args:
            raise InvalidArgument(f"{where}: RUN needs a command")
        return RunCommand(argv=instruction.args)
    script = instruction.rest
    docs = instruction.heredocs
    if len(docs) == 1 and len(script.split()) == 1 \
            and script.strip().lstrip("0123456789").startswith("<<"):
        content = docs[0].content  # "RUN <<EOF": the heredoc is the script
        if content.startswith("#!"):
            path = f"{PIPES}/{docs[0].name}"
            return RunCommand(argv=(path,), scripts=((path, content),))
        script = content
    elif docs:
        script = script + "\n" + "".join(f"{d.content}{d.name}\n" for d in docs)
    if not script.strip():
        raise InvalidArgument(f"{where}: RUN needs a command")
    return RunCommand(argv=(*shell, script))


def _fields(raw: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in raw.split(","):
        key, eq, value = item.partition("=")
        fields[key.strip().lower()] = value.strip() if eq else "true"
    return fields


# (from, source) -> (a host copy of that path in the stage or image, its cache-key input)
TreeFn = Callable[[str, str], tuple[Path, str]]


def run_mounts(instruction: Instruction, *, workdir: str, context: BuildContext,
               cache_root: Path, where: str,
               tree: TreeFn | None = None) -> tuple[list[Mount], list[str]]:
    """(mounts, cache-key inputs) of a RUN's ``--mount`` flags; makes cache mount dirs."""
    mounts: list[Mount] = []
    keys: list[str] = []
    for raw in instruction.flag_all("mount"):
        fields = _fields(raw)
        kind = fields.get("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if not target:
            raise InvalidArgument(f"{where}: --mount={raw}: a target is required")
        target = posixpath.normpath(posixpath.join(workdir, target))
        keys.append(f"mount {kind} {target} {fields.get('id', '')}")
        if kind == "cache":
            ident = fields.get("id") or target
            host = cache_root / hashlib.sha256(ident.encode()).hexdigest()[:32]
            if not host.is_dir():
                host.mkdir(parents=True, exist_ok=True)
                # uid/gid/mode apply when the cache is made, as in BuildKit.
                try:
                    mode = int(fields.get("mode", "755"), 8)
                    uid, gid = int(fields.get("uid", "0")), int(fields.get("gid", "0"))
                except ValueError as exc:
                    raise InvalidArgument(f"{where}: --mount={raw}: uid, gid and mode must be "
                                          "numbers") from exc
                if "uid" in fields or "gid" in fields:
                    os.chown(host, uid, gid)
                host.chmod(mode)
            mounts.append(Mount(type="bind", source=str(host), target=target))
        elif kind == "tmpfs":
            mounts.append(Mount(type="tmpfs", target=target))
        elif kind == "bind":
            source = fields.get("source") or fields.get("src") or "."
            writable = fields.get("rw", fields.get("readwrite", "false")) == "true"
            if "from" in fields:
                if tree is None:
                    raise InvalidArgument(f"{where}: --mount=type=bind,from=... is not "
                                          "available here")
                host, key = tree(fields["from"], source)
                keys.append(f"bind from {key}")
                mounts.append(Mount(type="bind", source=str(host), target=target,
                                    read_only=not writable, create_host_path=False))
                continue
            matched = context.match(source)
            keys.append(f"bind {source} {context.digest(matched)}")
            mounts.append(Mount(type="bind", source=str(context.host_path(matched[0])),
                                target=target, read_only=not writable,
                                create_host_path=False))
        else:
            raise InvalidArgument(f'{where}: --mount type "{kind}" is not supported '
                                  "(use cache, bind or tmpfs)")
    return mounts, keys
