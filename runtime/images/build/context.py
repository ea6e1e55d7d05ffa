"""The build context: the directory COPY and ADD read, seen through .dockerignore.

``BuildContext`` walks the directory once (pruning what .dockerignore surely
excludes), answers which context paths a COPY source names (plain paths and
``filepath.Match`` wildcards), and digests them for the step cache. Digests
cover path, type, permission bits, symlink target and content, not times,
as Docker documents for its cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import stat
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from runtime.errors import InvalidArgument, NotFound
from runtime.images.build.dockerignore import Matcher, read_patterns, to_regex

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_WILDCARD = re.compile(r"[*?\[]")


def ignore_file_for(root: Path, dockerfile: Path | None) -> Path | None:
    """``<Dockerfile>.dockerignore`` beside the Dockerfile wins over the context's .dockerignore."""
    if dockerfile is not None:
        specific = dockerfile.parent / f"{dockerfile.name}.dockerignore"
        if specific.is_file():
            return specific
    default = root / ".dockerignore"
    return default if default.is_file() else None


def has_wildcard(path: str) -> bool:
    return _WILDCARD.search(path) is not None


def clean_source(source: str) -> str:
    """A COPY source as a context-relative path; ``..`` never leaves the context."""
    return posixpath.normpath("/" + source).lstrip("/") or "."


class BuildContext:
    def __init__(self, root: Path, *, dockerfile: Path | None = None) -> None:
        self.root = root.resolve()
        if not self.root.is_dir():
            raise NotFound(f'build context "{root}" is not a directory')
        ignore = ignore_file_for(self.root, dockerfile)
        text = ignore.read_text(encoding="utf-8", errors="replace") if ignore else ""
        self.matcher = Matcher(read_patterns(text))
        self._digests: dict[tuple[str, int, int, int], str] = {}

    @cached_property
    def paths(self) -> dict[str, os.stat_result]:
        """Every included path (files, dirs, links), context-relative, with its lstat."""
        found: dict[str, os.stat_result] = {}
        self._walk(self.root, "", found)
        return found

    def _walk(self, directory: Path, rel: str, found: dict[str, os.stat_result]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise InvalidArgument(f'build context: cannot read "{directory}": {exc}') from exc
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            excluded = self.matcher.excluded(path)
            is_dir = stat.S_ISDIR(st.st_mode)
            if not excluded:
                found[path] = st
            if is_dir and (not excluded or self.matcher.may_include_below(path)):
                before = len(found)
                self._walk(Path(entry.path), path, found)
                if excluded and len(found) > before:
                    found[path] = st  # a directory holding re-included paths comes along
        return

    def is_dir(self, path: str) -> bool:
        if path == ".":
            return True
        st = self.paths.get(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def match(self, source: str) -> list[str]:
        """The context paths a COPY source names ("." for the whole context).

        A plain path must exist (after .dockerignore); a wildcard must match
        something (Docker fails then too). Wildcards follow ``filepath.Match``.
        """
        cleaned = clean_source(source)
        if cleaned == ".":
            return ["."]
        if not has_wildcard(cleaned):
            if cleaned not in self.paths:
                raise NotFound(f'COPY source "{source}": not found in the build context '
                               "(or excluded by .dockerignore)")
            return [cleaned]
        regex = to_regex(cleaned)
        hits = [p for p in self.paths if regex.match(p)]
        if not hits:
            raise NotFound(f'COPY source "{source}": no file in the build context matches')
        return hits

    def below(self, directory: str) -> list[str]:
        """Included paths under ``directory`` (not itself), sorted."""
        if directory == ".":
            return sorted(self.paths)
        prefix = directory + "/"
        return sorted(p for p in self.paths if p.startswith(prefix))

    def stat(self, path: str) -> os.stat_result:
        if path == ".":
            return self.root.lstat()
        return self.paths[path]

    def host_path(self, path: str) -> Path:
        return self.root if path == "." else self.root / path

    def file_digest(self, path: str) -> str:
        """sha256 over type, permission bits, link target and content (memoised by inode)."""
        st = self.stat(path)
        memo = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        if memo in self._digests:
            return self._digests[memo]
        h = hashlib.sha256()
        h.update(f"{stat.S_IFMT(st.st_mode):o} {stat.S_IMODE(st.st_mode):o}\0".encode())
        host = self.host_path(path)
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(host).encode())
        elif stat.S_ISREG(st.st_mode):
            try:
                with open(host, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
            except OSError as exc:
                raise InvalidArgument(f'build context: cannot read "{path}": {exc}') from exc
        digest = "sha256:" + h.hexdigest()
        self._digests[memo] = digest
        return digest

    def digest(self, sources: Iterable[str]) -> str:
        """One digest for a set of context paths and everything below the directories among them."""
        h = hashlib.sha256()
        for source in sources:
            names = [source] + (self.below(source) if self.is_dir(source) else [])
            for name in names:
                h.update(f"{name}\0{self.file_digest(name)}\n".encode())
        return "sha256:" + h.hexdigest()
