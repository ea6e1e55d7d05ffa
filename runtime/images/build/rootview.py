"""A read-only view of a stack of unpacked layers, as overlayfs would merge them.

Used where the builder must look inside a stage's file system without
mounting it: does COPY's destination exist, where do its symlinks lead, who
is "app" in /etc/passwd, what does ``COPY --from=stage`` read. Follows
overlayfs' rules: the topmost layer holding a path wins, a 0/0 character
device hides the path below it, an opaque directory hides the lower
directories' content, a non-directory hides everything below its name.

Read-only: never writes.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from runtime.errors import InvalidArgument, NotFound

_MAX_LINKS = 40


def _opaque(path: Path) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _parts(path: str) -> list[str]:
    cleaned = posixpath.normpath("/" + path)
    return [p for p in cleaned.split("/") if p]


class RootView:
    def __init__(self, layers: Sequence[Path]) -> None:
        self.layers = list(layers)  # lowest first

    def lookup(self, path: str) -> tuple[Path, os.stat_result] | None:
        """The host path and lstat of ``path`` (symlinks NOT followed), or None."""
        parts = _parts(path)
        if not parts:
            if not self.layers:
                return None
            top = self.layers[-1]
            return top, top.lstat()
        for layer in reversed(self.layers):
            current = layer
            hidden_below = False
            for i, part in enumerate(parts):
                candidate = current / part
                try:
                    st = candidate.lstat()
                except (FileNotFoundError, NotADirectoryError):
                    break
                if _whiteout(st):
                    return None
                if i == len(parts) - 1:
                    return candidate, st
                if not stat.S_ISDIR(st.st_mode):
                    return None  # a file here hides everything below its name
                if _opaque(candidate):
                    hidden_below = True
                current = candidate
            if hidden_below:
                return None
        return None

    def resolve(self, path: str, *, follow_last: bool = True) -> str:
        """``path`` with every symlink resolved inside this root (absolute, cleaned)."""
        pending = _parts(path)
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            candidate = "/" + "/".join([*done, part])
            found = self.lookup(candidate)
            if found is not None and stat.S_ISLNK(found[1].st_mode) and (pending or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise InvalidArgument(f'path "{path}": too many levels of symbolic links')
                target = os.readlink(found[0])
                if target.startswith("/"):
                    done = []
                pending = _parts(target) + pending if target not in ("/", "") else pending
                continue
            done.append(part)
            # ".." was cleaned by _parts for the written path; a link's ".." is handled here.
            while ".." in done:
                at = done.index("..")
                del done[max(0, at - 1):at + 1]
        return "/" + "/".join(done)

    def is_dir(self, path: str) -> bool:
        found = self.lookup(self.resolve(path))
        return found is not None and stat.S_ISDIR(found[1].st_mode)

    def exists(self, path: str) -> bool:
        return self.lookup(path) is not None

    def read(self, path: str) -> bytes | None:
        found = self.lookup(self.resolve(path))
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None
        return found[0].read_bytes()

    def listdir(self, path: str) -> list[str]:
        """Merged, sorted names in a directory (whiteouts and opaque dirs applied)."""
        parts = _parts(path)
        names: set[str] = set()
        hidden: set[str] = set()
        for layer in reversed(self.layers):
            directory = layer.joinpath(*parts)
            blocked = False
            current = layer
            for part in parts:  # a whiteout or file on the way hides this layer's copy
                current = current / part
                try:
                    st = current.lstat()
                except (FileNotFoundError, NotADirectoryError):
                    blocked = True
                    break
                if not stat.S_ISDIR(st.st_mode):
                    return sorted(names)
            if not blocked:
                try:
                    entries = list(os.scandir(directory))
                except (FileNotFoundError, NotADirectoryError):
                    entries = []
                for entry in entries:
                    if entry.name in names or entry.name in hidden:
                        continue
                    if _whiteout(entry.stat(follow_symlinks=False)):
                        hidden.add(entry.name)
                    else:
                        names.add(entry.name)
                if _opaque(directory):
                    break
        return sorted(names)

    def walk(self, path: str) -> Iterator[tuple[str, Path, os.stat_result]]:
        """(absolute path, host path, lstat) of everything below ``path``, parents first."""
        for name in self.listdir(path):
            child = posixpath.join(path, name)
            found = self.lookup(child)
            if found is None:
                continue
            yield child, found[0], found[1]
            if stat.S_ISDIR(found[1].st_mode):
                yield from self.walk(child)


def materialize(view: RootView, path: str, dest: Path) -> None:
    """Copy ``path`` (a file or a tree) out of the view to ``dest``, keeping owners, modes,
    symlinks and times (for ``RUN --mount=type=bind,from=``)."""
    import shutil

    found = view.lookup(view.resolve(path))
    if found is None:
        raise NotFound(f'"{path}" not found in the source stage or image')
    items = [(dest, found[0], found[1])]
    if stat.S_ISDIR(found[1].st_mode):
        root = view.resolve(path).rstrip("/")
        items += [(dest / child[len(root):].lstrip("/"), host, st)
                  for child, host, st in view.walk(root or "/")]
    for target, host, st in items:
        if stat.S_ISDIR(st.st_mode):
            target.mkdir(exist_ok=True)
        elif stat.S_ISLNK(st.st_mode):
            target.symlink_to(os.readlink(host))
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(host, target)
        else:
            continue  # devices, fifos, sockets: not needed to read from a stage
        os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(target, stat.S_IMODE(st.st_mode))
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
