"""Layer tar -> a directory usable as an overlayfs lowerdir, safely.

Each layer is unpacked once, keyed by its chain id, into ``layers/<hex>``:
first into a temp dir beside it, renamed into place only when complete and its
diff id verified, so a layer dir that exists is whole. The tar is read in one
pass as it is decompressed (tarfile's "r:" mode over a forward-only stream that
hashes it for the diff id); file data goes from the decompressor's output to the
file with no copy in between.

Safety invariants (a hostile tar gets ``InvalidArgument`` and leaves nothing):
- no absolute names and no ``..`` components, in names and hardlink targets;
- every parent directory is opened relative to the layer root with
  O_NOFOLLOW, one component at a time, so no entry is written through a
  symlink (a symlink itself may point anywhere: it is resolved inside the
  container's root, never here);
- hardlinks only to entries already in this layer;
- no device nodes (except the 0/0 char device, overlay's whiteout);
- no ``trusted.overlay.*`` xattrs from the tar (they would steer overlayfs).
OCI whiteouts become overlayfs ones: ``.wh.x`` -> char device 0/0 named x;
``.wh..wh..opq`` -> xattr ``trusted.overlay.opaque=y`` on the directory.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from runtime.errors import Failed, InvalidArgument

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1 << 20
# Compressed input is fed in pieces of at most this: zlib copies its unconsumed tail on
# every call, so a big piece read in small outputs (CHUNK) would be copied over and
# over; 256 KiB in is mostly used up in one call, and few calls mean few GIL handoffs.
GZIP_INPUT = 256 << 10


class _TarStream:
    """The uncompressed tar, as the file tarfile reads in its "r:" mode, hashed on the
    way (the diff id): forward only, fed by ``produce`` (pieces of any size, b"" at the
    end), with member data handed out in place (``view``), never copied in Python.

    tarfile's "r:" mode only seeks forward (over data not read and over padding), so
    seeking forward reads and drops; seeking back is refused, never done quietly.
    Pieces are read straight from the decompressor: no second buffer in between.
    """

    def __init__(self, produce: Callable[[], bytes]) -> None:
        self._produce = produce
        self.hash = hashlib.sha256()
        self._buf = b""
        self._off = 0  # in _buf
        self._pos = 0  # in the whole stream
        self._eof = False

    def _more(self) -> bool:
        """Next piece into the (fully consumed) buffer; False at the end."""
        if self._eof:
            return False
        data = self._produce()
        if not data:
            self._eof = True
            return False
        self.hash.update(data)
        self._buf, self._off = data, 0
        return True

    def view(self, n: int) -> memoryview:
        """Up to ``n`` (> 0) next bytes, in place; empty only at the end."""
        if self._off >= len(self._buf) and not self._more():
            return memoryview(b"")
        out = memoryview(self._buf)[self._off:self._off + n]
        self._off += len(out)
        self._pos += len(out)
        return out

    def read(self, n: int = -1) -> bytes:
        """``n`` bytes (fewer only at the end); headers and small records."""
        parts = []
        need = n if n >= 0 else -1
        while need:
            if self._off >= len(self._buf) and not self._more():
                break
            end = len(self._buf) if need < 0 else min(len(self._buf), self._off + need)
            parts.append(self._buf[self._off:end])
            got = end - self._off
            self._off = end
            self._pos += got
            if need > 0:
                need -= got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            pos += self._pos
        elif whence != os.SEEK_SET:
            raise OSError(errno.ESPIPE, "a layer stream only seeks forward")
        if pos < self._pos:
            raise OSError(errno.ESPIPE, "a layer stream only seeks forward")
        while pos > self._pos and self.view(min(pos - self._pos, CHUNK)):
            pass
        return self._pos

    def drain(self) -> None:
        """Read to the end (the diff id covers the end-of-archive blocks and any rest)."""
        self._off = len(self._buf)
        while self._more():
            self._pos += len(self._buf)
            self._off = len(self._buf)


class _Peekable:
    """Lets us sniff the compression magic of a non-seekable stream."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.head = b""
        while len(self.head) < 4 and (more := raw.read(4 - len(self.head))):
            self.head += more  # a network stream may hand out fewer bytes than asked

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.raw.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.raw.read(n - len(data))
            return data
        return self.raw.read(n)


class _GzipReader:
    """gzip, decompressed in big reads straight through zlib (which checks each
    member's CRC and length); several members in a row are allowed, as in gzip.

    Faster than gzip.GzipFile, which pulls its input 8 KiB at a time.
    """

    def __init__(self, raw: _Peekable) -> None:
        self.raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""  # compressed input not yet fed
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        limit = n or CHUNK
        while not self._eof:
            if self._z.eof:
                rest = self._z.unused_data + self._pending
                self._pending = b""
                if not rest:
                    rest = self.raw.read(GZIP_INPUT)
                if not rest.strip(b"\0"):  # end, or zero padding after the last member
                    self._eof = True
                    break
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = rest
            data = self._pending or self._z.unconsumed_tail or self.raw.read(GZIP_INPUT)
            if not data:
                raise EOFError("compressed layer ends before the end of its gzip stream")
            self._pending = b""
            try:
                out = self._z.decompress(data, limit)
            except zlib.error as exc:  # bad data or a wrong CRC in a member's trailer
                raise gzip.BadGzipFile(f"corrupt gzip data: {exc}") from exc
            if out:
                return out
        return b""


def decompressed(stream: IO[bytes]) -> IO[bytes]:
    """The tar stream inside ``stream``, whatever its compression (sniffed, not trusted)."""
    peek = _Peekable(stream)
    if peek.head.startswith(GZIP_MAGIC):
        return cast(IO[bytes], _GzipReader(peek))
    if peek.head.startswith(ZSTD_MAGIC):
        return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(cast(Any, peek)))
    return cast(IO[bytes], peek)


def _hostile(what: str, name: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f'{what}: refused entry "{name}": {problem}')


def _split(name: str, *, what: str, entry: str | None = None) -> list[str]:
    """Path components of ``name``; ``entry`` is set when ``name`` is a hardlink target."""
    label = "path" if entry is None else f'hardlink target "{name}"'
    if name.startswith("/"):
        raise _hostile(what, entry or name, f"{label} is absolute")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _hostile(what, entry or name, f"{label} escapes the layer directory (..)")
    return parts


@dataclass(slots=True)
class _DirMeta:
    parts: list[str]
    mode: int
    mtime: float


class _Extractor:
    def __init__(self, root: Path, *, what: str) -> None:
        self.what = what
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.privileged = os.geteuid() == 0
        self.dirs: list[_DirMeta] = []
        self._cached: tuple[tuple[str, ...], int] | None = None

    def close(self) -> None:
        self._drop_cache()
        os.close(self.root_fd)

    def _drop_cache(self) -> None:
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None

    def _open_dir(self, parts: list[str], name: str, *, create: bool) -> int:
        """An fd of the directory ``parts`` under the root, never through a symlink.

        The caller must not close it (it is cached until the next call).
        """
        key = tuple(parts)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        self._drop_cache()
        fd = os.dup(self.root_fd)
        try:
            for comp in parts:
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise _hostile(self.what, name, f'"{comp}" does not exist') from None
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _hostile(self.what, name,
                                       f'"{comp}" is a symlink or not a directory') from exc
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        self._cached = (key, fd)
        return fd

    def _clear(self, pfd: int, leaf: str, *, keep_dir: bool) -> bool:
        """Remove whatever is at ``leaf``; returns True when a directory was kept."""
        try:
            st = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            # rmtree with dir_fd works fd-relative and never follows symlinks.
            shutil.rmtree(leaf, dir_fd=pfd)
        else:
            os.unlink(leaf, dir_fd=pfd)
        return False

    def _xattrs(self, target: int, member: tarfile.TarInfo) -> None:
        """Xattrs from PAX headers onto the open fd ``target`` (files and dirs only)."""
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            attr = key.removeprefix("SCHILY.xattr.")
            if attr.startswith("trusted.overlay."):
                log.warning("%s: ignoring xattr %s on %s", self.what, attr, member.name)
                continue
            try:
                os.setxattr(target, attr, value.encode("utf-8", "surrogateescape"))
            except OSError as exc:  # e.g. security.* on a filesystem without it
                log.debug("%s: xattr %s on %s not kept: %s", self.what, attr, member.name, exc)

    def entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = member.name
        parts = _split(name, what=self.what)
        if not parts:
            if not member.isdir():
                raise _hostile(self.what, name, "the layer root must be a directory")
            self.dirs.append(_DirMeta(parts=[], mode=member.mode, mtime=member.mtime))
            return
        *parents, leaf = parts
        pfd = self._open_dir(parents, name, create=True)
        if leaf == OPAQUE:
            self._whiteout_opaque(pfd, name)
            return
        if leaf.startswith(OPAQUE[:8]):  # other .wh..wh.* entries: aufs bookkeeping, ignored
            return
        if leaf.startswith(WHITEOUT_PREFIX):
            target = leaf.removeprefix(WHITEOUT_PREFIX)
            if target in ("", ".", ".."):
                raise _hostile(self.what, name, "whiteout of an invalid name")
            self._clear(pfd, target, keep_dir=False)
            self._mknod_whiteout(pfd, target, name)
            return
        kept_dir = self._clear(pfd, leaf, keep_dir=member.isdir())
        if member.isdir():
            if not kept_dir:
                os.mkdir(leaf, 0o700, dir_fd=pfd)
            dfd = os.open(leaf, _DIR_FLAGS, dir_fd=pfd)
            try:
                self._own(dfd, member)
                self._xattrs(dfd, member)
            finally:
                os.close(dfd)
            self.dirs.append(_DirMeta(parts=parts, mode=member.mode, mtime=member.mtime))
        elif member.isreg():
            self._file(tar, member, pfd, leaf)
        elif member.issym():
            os.symlink(member.linkname, leaf, dir_fd=pfd)
            if self.privileged:
                os.chown(leaf, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(leaf, (member.mtime, member.mtime), dir_fd=pfd, follow_symlinks=False)
        elif member.islnk():
            self._hardlink(member, parents, leaf)
        elif member.isfifo():
            os.mkfifo(leaf, member.mode & 0o7777, dir_fd=pfd)
            if self.privileged:
                os.chown(leaf, member.uid, member.gid, dir_fd=pfd, follow_symlinks=False)
        elif member.ischr() and member.devmajor == 0 and member.devminor == 0:
            self._mknod_whiteout(pfd, leaf, name)  # already in overlay's own format
        elif member.ischr() or member.isblk():
            raise _hostile(self.what, name, "device nodes are not allowed in layers")
        else:
            raise _hostile(self.what, name, f"unsupported tar entry type {member.type!r}")

    def _own(self, fd: int, member: tarfile.TarInfo) -> None:
        if self.privileged:
            os.fchown(fd, member.uid, member.gid)

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, pfd: int, leaf: str) -> None:
        fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            stream = tar.fileobj
            if (isinstance(stream, _TarStream) and not member.sparse
                    and stream.tell() == member.offset_data):
                # The data in place from the decompressor's output, straight to the file.
                left = member.size
                while left:
                    view = stream.view(min(left, CHUNK))
                    if not view:
                        raise tarfile.ReadError("unexpected end of data")
                    left -= len(view)
                    while view:
                        view = view[os.write(fd, view):]
            elif (src := tar.extractfile(member)) is not None:  # sparse files
                while chunk := src.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            self._own(fd, member)  # before chmod: chown clears setuid bits
            os.fchmod(fd, member.mode & 0o7777)
            self._xattrs(fd, member)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)

    def _hardlink(self, member: tarfile.TarInfo, parents: list[str], leaf: str) -> None:
        target = _split(member.linkname, what=self.what, entry=member.name)
        if not target:
            raise _hostile(self.what, member.name, "hardlink to the layer root")
        *tparents, tleaf = target
        # The target must already be in this layer: opened without creating, no symlinks.
        tfd = os.dup(self._open_dir(tparents, member.name, create=False))
        try:
            try:
                st = os.stat(tleaf, dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise _hostile(self.what, member.name,
                               f'hardlink target "{member.linkname}" is not in this layer') from None
            if stat.S_ISDIR(st.st_mode):
                raise _hostile(self.what, member.name, "hardlink to a directory")
            pfd = self._open_dir(parents, member.name, create=True)
            os.link(tleaf, leaf, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)

    def _mknod_whiteout(self, pfd: int, leaf: str, name: str) -> None:
        try:
            os.mknod(leaf, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        except PermissionError as exc:
            raise Failed(f'{self.what}: whiteout "{name}" needs root (an overlay whiteout '
                         "is a 0/0 character device)") from exc

    def _whiteout_opaque(self, pfd: int, name: str) -> None:
        try:
            os.setxattr(pfd, "trusted.overlay.opaque", b"y")
        except PermissionError as exc:
            raise Failed(f'{self.what}: opaque whiteout "{name}" needs root '
                         "(trusted.overlay.opaque xattr)") from exc

    def finish(self) -> None:
        """Directory modes and times last: adding entries changed their mtimes."""
        self._drop_cache()
        for meta in sorted(self.dirs, key=lambda d: -len(d.parts)):
            try:
                fd = os.dup(self._open_dir(meta.parts, "/".join(meta.parts) or ".",
                                           create=False))
            except InvalidArgument:
                continue  # replaced later in the tar (by a file, a symlink or a whiteout)
            try:
                os.fchmod(fd, meta.mode & 0o7777)
                os.utime(fd, (meta.mtime, meta.mtime))
            finally:
                os.close(fd)
        self._drop_cache()


def extract(stream: IO[bytes], dest: Path, *, what: str) -> str:
    """Unpack the (possibly compressed) layer ``stream`` into the existing empty ``dest``.

    Returns the diff id (sha256 of the uncompressed tar).
    """
    source = decompressed(stream)
    reader = _TarStream(lambda: source.read(CHUNK))
    os.chmod(dest, 0o755)
    ex = _Extractor(dest, what=what)
    try:
        try:
            with tarfile.open(fileobj=cast(IO[bytes], reader), mode="r:") as tar:
                for member in tar:
                    ex.entry(tar, member)
            reader.drain()
        except (tarfile.TarError, EOFError, OSError, zstandard.ZstdError) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise Failed(f"{what}: no space left while unpacking") from exc
            raise InvalidArgument(f"{what}: not a valid layer archive: {exc}") from exc
        ex.finish()
    finally:
        ex.close()
    return "sha256:" + reader.hash.hexdigest()


class LayerStore:
    """``layers/<chain hex>``: each layer unpacked once; a dir that exists is complete."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, chain_id: str) -> Path:
        return self.root / chain_id.removeprefix("sha256:")

    def has(self, chain_id: str) -> bool:
        return self.path(chain_id).is_dir()

    def unpack(self, chain_id: str, blob: IO[bytes], *, diff_id: str, what: str,
               before_publish: Callable[[], None] | None = None) -> Path:
        """Unpack ``blob`` as layer ``chain_id`` unless present; verifies ``diff_id``.

        ``before_publish`` runs once the content is extracted, before the diff id check
        and before the layer becomes visible; if it raises, nothing is kept (a streamed
        download verifies its blob digest there).
        """
        final = self.path(chain_id)
        with self._guard:
            lock = self._locks.setdefault(chain_id, threading.Lock())
        with lock:
            if final.is_dir():
                return final
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".unpack-"))
            try:
                got = extract(blob, tmp, what=what)
                if before_publish is not None:
                    before_publish()  # the blob's own digest first: it is what we trust
                if got != diff_id:
                    raise Failed(f"{what}: content does not match the image config "
                                 f"(diff id {got}, expected {diff_id})")
                try:
                    os.rename(tmp, final)
                except OSError as exc:
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    log.debug("layer %s unpacked concurrently by another process", chain_id)
                    _remove_tree(tmp)
            except BaseException:
                _remove_tree(tmp)
                raise
            return final

    def remove(self, chain_id: str) -> None:
        path = self.path(chain_id)
        if not path.is_dir():
            return
        # Rename first so a half-removed layer is never taken for a complete one.
        doomed = Path(tempfile.mkdtemp(dir=self.root, prefix=".remove-"))
        os.rename(path, doomed / "layer")
        _remove_tree(doomed)

    def chain_ids(self) -> list[str]:
        return [f"sha256:{p.name}" for p in self.root.iterdir() if not p.name.startswith(".")]

    def clean_temp(self, *, older_than: float = 3600.0) -> None:
        """Remove temp dirs of unpacks that died (an hour old: younger ones may be
        in progress in another process)."""
        now = time.time()
        for p in self.root.iterdir():
            if p.name.startswith((".unpack-", ".remove-")):
                with contextlib.suppress(FileNotFoundError):
                    if now - p.stat().st_mtime > older_than:
                        _remove_tree(p)


def _remove_tree(path: Path) -> None:
    def onerror(func: object, p: str, exc: object) -> None:
        # Read-only dirs (mode 0555 from a layer) block removal for non-root: open them up.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)

    shutil.rmtree(path, onerror=onerror)
