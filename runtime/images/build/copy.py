"""COPY and ADD: the files a step adds, written straight into a layer tar.

No container runs: sources are read from the build context, a heredoc, or
another stage's / image's layers (``RootView``), and written under the
destination with Docker's rules:

- a directory source copies its content, not itself;
- several sources, or a wildcard, need a destination ending in "/";
- a destination ending in "/" (or an existing directory) receives the
  sources by their base names; a relative destination is under WORKDIR;
- missing parent directories are created (0755), existing ones are left
  alone so their owner and mode stay those of the lower layers;
- owners are root unless ``--chown`` (names looked up in the stage's own
  /etc/passwd and /etc/group; a user without a group uses the uid as gid);
- ADD unpacks local tar archives (plain, gzip, bzip2, xz); ADD from a URL is
  refused with a clear error.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import InvalidArgument, NotFound
from runtime.images.build.context import BuildContext, has_wildcard
from runtime.images.build.layer import LayerWriter
from runtime.images.build.rootview import RootView


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    uid: int
    gid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CopySpec:
    """One COPY/ADD after substitution."""

    sources: tuple[str, ...]
    dest: str  # absolute (WORKDIR applied), as written otherwise (a trailing "/" kept)
    owner: Owner | None = None
    mode: int | None = None  # --chmod
    add: bool = False  # ADD: unpack archives
    heredocs: tuple[tuple[str, bytes], ...] = ()  # (name, content) usable as sources


def _table(view: RootView, path: str) -> list[list[str]]:
    data = view.read(path)
    if data is None:
        return []
    return [line.split(":") for line in data.decode(errors="replace").splitlines()
            if line and not line.startswith("#")]


def resolve_owner(spec: str, view: RootView) -> Owner:
    """``--chown`` value -> numeric ids, looked up in the stage's own user tables."""
    user, sep, group = spec.partition(":")
    if not user:
        raise InvalidArgument(f'--chown "{spec}": missing user')
    if user.isdigit():
        uid = int(user)
    else:
        entry = next((r for r in _table(view, "/etc/passwd") if len(r) >= 4 and r[0] == user),
                     None)
        if entry is None:
            raise InvalidArgument(f'--chown "{spec}": user "{user}" not found in the '
                                  "image's /etc/passwd")
        uid = int(entry[2])
    if not sep or not group:
        return Owner(uid=uid, gid=uid)
    if group.isdigit():
        return Owner(uid=uid, gid=int(group))
    row = next((r for r in _table(view, "/etc/group") if len(r) >= 3 and r[0] == group), None)
    if row is None:
        raise InvalidArgument(f'--chown "{spec}": group "{group}" not found in the '
                              "image's /etc/group")
    return Owner(uid=uid, gid=int(row[2]))


def resolve_user(spec: str, view: RootView) -> Owner:
    """A USER value -> ids, the group defaulting to the user's primary group (WORKDIR's owner)."""
    user, _, group = spec.partition(":")
    entry = next((r for r in _table(view, "/etc/passwd")
                  if len(r) >= 4 and (r[0] == user or (user.isdigit() and r[2] == user))), None)
    if entry is None and not user.isdigit():
        raise InvalidArgument(f'USER "{spec}": user "{user}" not found in the image\'s '
                              "/etc/passwd")
    uid = int(user) if user.isdigit() else int(entry[2])  # type: ignore[index]
    gid = int(entry[3]) if entry is not None and entry[3].isdigit() else 0
    if group:
        return Owner(uid=uid, gid=resolve_owner(f"0:{group}", view).gid)
    return Owner(uid=uid, gid=gid)


def parse_chmod(value: str) -> int:
    try:
        mode = int(value, 8)
    except ValueError as exc:
        raise InvalidArgument(f'--chmod "{value}": not an octal mode') from exc
    if mode > 0o7777:
        raise InvalidArgument(f'--chmod "{value}": mode out of range')
    return mode


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", "git@", "git://"))


class _Emitter:
    """Writes entries under a root view, creating missing parent directories once."""

    def __init__(self, writer: LayerWriter, view: RootView, spec: CopySpec) -> None:
        self.writer = writer
        self.view = view
        self.spec = spec
        self.dirs_done: set[str] = set()

    def _owner(self, st_uid: int, st_gid: int, *, keep: bool) -> tuple[int, int]:
        if self.spec.owner is not None:
            return self.spec.owner.uid, self.spec.owner.gid
        return (st_uid, st_gid) if keep else (0, 0)

    def parents(self, name: str) -> None:
        parts = name.strip("/").split("/")[:-1]
        for i in range(len(parts)):
            directory = "/".join(parts[: i + 1])
            if directory in self.dirs_done:
                continue
            self.dirs_done.add(directory)
            if not self.view.exists("/" + directory):
                uid, gid = self._owner(0, 0, keep=False)
                self.writer.directory(directory, mode=0o755, uid=uid, gid=gid)

    def host(self, name: str, host: Path, st: os.stat_result, *,
             keep_owner: bool = False) -> None:
        self.parents(name)
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir and self.view.exists("/" + name.strip("/")):
            self.dirs_done.add(name.strip("/"))
            return  # an existing directory keeps its owner and mode
        uid, gid = self._owner(st.st_uid, st.st_gid, keep=keep_owner)
        mode = None if self.spec.mode is None or stat.S_ISLNK(st.st_mode) else self.spec.mode
        self.writer.path(name.strip("/"), host, st=st, uid=uid, gid=gid, mode=mode,
                         xattrs=False)
        if is_dir:
            self.dirs_done.add(name.strip("/"))

    def data(self, name: str, content: bytes) -> None:
        self.parents(name)
        uid, gid = self._owner(0, 0, keep=False)
        self.writer.data(name.strip("/"), content,
                         mode=0o644 if self.spec.mode is None else self.spec.mode,
                         uid=uid, gid=gid)


def _dest_dir(spec: CopySpec, view: RootView, many: bool, where: str) -> tuple[str, bool]:
    """(destination resolved inside the root, is it a directory?)."""
    as_dir = spec.dest.endswith("/") or spec.dest.endswith("/.")
    resolved = view.resolve(spec.dest, follow_last=True)
    if not as_dir and view.is_dir(resolved):
        as_dir = True
    if many and not as_dir:
        raise InvalidArgument(f'{where}: when using COPY with more than one source file, the '
                              f'destination must be a directory and end with a /: "{spec.dest}"')
    return resolved, as_dir


def _archive(host: Path) -> tarfile.TarFile | None:
    try:
        return tarfile.open(host, mode="r:*")
    except (tarfile.TarError, OSError):
        return None


def write_copy(spec: CopySpec, *, writer: LayerWriter, view: RootView,
               context: BuildContext | None, source_view: RootView | None,
               where: str) -> None:
    """Write the layer for one COPY/ADD. ``source_view`` set: ``--from`` (stage or image)."""
    heredocs = dict(spec.heredocs)
    matches: list[tuple[str, str]] = []  # (kind, path): kind "ctx" | "view" | "heredoc"
    for source in spec.sources:
        if source in heredocs:
            matches.append(("heredoc", source))
        elif is_url(source):
            raise InvalidArgument(f'{where}: ADD from a URL ("{source}") is not supported: '
                                  "download it in a RUN step, or into the build context")
        elif source_view is not None:
            matches += [("view", p) for p in _view_matches(source_view, source, where)]
        elif context is not None:
            matches += [("ctx", p) for p in context.match(source)]
        else:
            raise NotFound(f'{where}: no build context to copy "{source}" from')
    many = len(matches) > 1  # several sources, directly or through a wildcard
    dest, as_dir = _dest_dir(spec, view, many, where)
    emit = _Emitter(writer, view, spec)
    base = dest.strip("/")

    def target(name: str) -> str:
        return f"{base}/{name}" if base else name

    for kind, path in matches:
        if kind == "heredoc":
            emit.data(target(path) if as_dir else base, heredocs[path])
            continue
        if kind == "ctx":
            assert context is not None
            st = context.stat(path)
            host = context.host_path(path)
            if stat.S_ISDIR(st.st_mode):
                for below in context.below(path):
                    rel = below if path == "." else below[len(path) + 1:]
                    emit.host(target(rel), context.host_path(below), context.stat(below))
                continue
            name = target(posixpath.basename(path)) if as_dir else base
            if spec.add and (archive := _archive(host)) is not None:
                with archive:
                    _unpack(archive, base, emit, where)
                continue
            emit.host(name, host, st)
            continue
        assert source_view is not None
        found = source_view.lookup(path)
        if found is None:
            raise NotFound(f'{where}: "{path}" not found in the source stage or image')
        host, st = found
        if stat.S_ISDIR(st.st_mode):
            for child, child_host, child_st in source_view.walk(path):
                rel = child[len(path.rstrip("/")) + 1:]
                emit.host(target(rel), child_host, child_st, keep_owner=True)
            continue
        emit.host(target(posixpath.basename(path)) if as_dir else base, host, st,
                  keep_owner=True)
    if as_dir and base and not view.exists("/" + base):
        emit.parents(base + "/x")  # an empty directory source still makes the destination


def _view_matches(view: RootView, source: str, where: str) -> list[str]:
    path = posixpath.normpath("/" + source)
    if not has_wildcard(path):
        resolved = view.resolve(path, follow_last=False)
        if view.lookup(resolved) is None:
            raise NotFound(f'{where}: "{source}" not found in the source stage or image')
        return [resolved]
    parent, pattern = posixpath.split(path)
    if has_wildcard(parent):
        raise InvalidArgument(f'{where}: wildcards are supported only in the last path '
                              f'component of a --from source: "{source}"')
    hits = [posixpath.join(parent, n) for n in view.listdir(view.resolve(parent))
            if fnmatch.fnmatchcase(n, pattern)]
    if not hits:
        raise NotFound(f'{where}: no file matches "{source}" in the source stage or image')
    return hits


def _unpack(archive: tarfile.TarFile, base: str, emit: _Emitter, where: str) -> None:
    """ADD of a local archive: its entries under the destination (owners kept)."""
    for member in archive:
        name = posixpath.normpath(member.name.lstrip("/"))
        if name in (".", "") or name.startswith("../"):
            continue
        full = f"{base}/{name}" if base else name
        emit.parents(full)
        info = tarfile.TarInfo(full + ("/" if member.isdir() else ""))
        for field in ("mode", "uid", "gid", "mtime", "type", "linkname", "size",
                      "devmajor", "devminor"):
            setattr(info, field, getattr(member, field))
        if member.islnk():
            info.linkname = f"{base}/{posixpath.normpath(member.linkname)}" if base \
                else member.linkname
        info.uname = info.gname = ""
        if emit.spec.owner is not None:
            info.uid, info.gid = emit.spec.owner.uid, emit.spec.owner.gid
        fileobj = archive.extractfile(member) if member.isreg() else None
        try:
            emit.writer.tar.addfile(info, fileobj)
        except (OSError, tarfile.TarError) as exc:
            raise InvalidArgument(f'{where}: cannot add "{member.name}" from the archive: '
                                  f"{exc}") from exc
        if member.isdir():
            emit.dirs_done.add(full)


def sources_of(words: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """COPY's words -> (sources, destination); at least one source."""
    if len(words) < 2:
        raise InvalidArgument("COPY and ADD need at least one source and a destination")
    return tuple(words[:-1]), words[-1]
