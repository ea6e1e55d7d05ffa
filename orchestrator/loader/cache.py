"""A cache of loaded projects: an unchanged project loads without the loader.

Commands such as ``ps`` or a no-op ``up`` load the same files again and again;
reading, interpolating, merging, validating and binding them (and importing the
stages, yaml and jsonschema to do so) costs more than the command's own work.

An entry is keyed by everything a load depends on besides files: the request
(``LoadOptions`` without the environment), the whole shell environment (a
superset of what interpolation, ``.env`` expansion and ``KEY``-only
environment entries look up: any change misses, which is safe and, between
commands of one shell, rare), the running Python and the loader's own code and
schema (by size and mtime). The entry holds what the load looked at
(``inputs.Inputs``): the bytes of every file it read - stack files, overrides,
extends / include targets, ``.env``, ``env_file`` and label files - and the
answer of every "is there a file here?" - discovery, optional ``.env`` files -
plus the bytes of secret and config files (the config hashes read those
afresh anyway; they are kept so that no input of ``up`` is trusted unseen);
then the pickled ``LoadedStack``. A hit needs every file to read, and every
question to answer, as before: any edit, new file or removed file misses.

Only successful loads are stored; a load that read stdin is never cached. The
loader's dependencies (PyYAML, jsonschema) are not in the key: upgrading them
in place calls for ``rm -r $XDG_CACHE_HOME/stack/projects``. A cache that cannot be
read, written or unpickled is a miss, never an error. Entries live under
``$XDG_CACHE_HOME/stack/projects`` (mode 0700: pickles are only read from a
directory of the user's own) and are pruned like the validation cache.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Final

import schemas
from orchestrator.loader import cachedir, inputs

if TYPE_CHECKING:
    from orchestrator.loader.load import LoadedStack, LoadOptions

log = logging.getLogger(__name__)

CACHE_VERSION: Final = 1
CACHE_ENTRIES: Final = 64
_LOADER_DIR: Final = Path(__file__).resolve().parent
# the code whose output an entry holds: a change to any of it must miss
_CODE: Final = (_LOADER_DIR.parent / "model.py", schemas.path("stack.schema.json"))


def cache_dir() -> Path:
    return cachedir.cache_dir("projects")


def cache_key(options: LoadOptions) -> tuple[str, str] | None:
    """The entry name for ``options`` and the full request it stands for (kept in the
    entry and compared on a hit, so the short name needs no cryptographic hash);
    None when the load cannot be cached (stdin)."""
    if any(str(f) == "-" for f in options.files):
        return None
    request = (
        CACHE_VERSION, sys.version, _code_stamp(),
        tuple(str(f) for f in options.files), options.project_name,
        None if options.project_directory is None else str(options.project_directory),
        tuple(str(f) for f in options.env_files), options.profiles,
        str(options.working_dir.absolute()), options.interpolate, options.services,
        sorted(options.environ.items()), os.environ.get("HOME"),  # HOME: expanduser of ~
    )
    text = repr(request)
    data = text.encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}", text


class Entry:
    """A cache hit: what a command may need before the model (the project name, the
    warnings to repeat), and the pickled ``LoadedStack``, unpickled by ``loaded`` only
    when asked for, so that a command that never looks at the model never imports it."""

    __slots__ = ("name", "path", "payload", "warnings")

    def __init__(self, *, name: str, warnings: tuple[str, ...], payload: bytes, path: Path) -> None:
        self.name = name
        self.warnings = warnings
        self.payload = payload
        self.path = path

    def loaded(self) -> LoadedStack | None:
        """The cached load; None if the entry turns out to be unreadable."""
        import pickle

        from orchestrator.loader.load import LoadedStack

        try:
            loaded = pickle.loads(self.payload)
        except Exception as exc:  # a torn or foreign entry: load as if it were not there
            log.debug("project cache: ignoring entry %s: %s", self.path, exc)
            return None
        return loaded if isinstance(loaded, LoadedStack) else None


def lookup(options: LoadOptions) -> Entry | None:
    """The cache entry for ``options`` if every file its load looked at is as it was."""
    key = cache_key(options)
    if key is None:
        return None
    path = cache_dir() / key[0]
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                log.debug("project cache: %s is not the user's own, ignoring it", path)
                return None  # a pickle runs code: only ever read the user's own
            blob = f.read()
    except OSError:
        return None
    try:
        request, contents, probes, (name, warnings), crc, payload = marshal.loads(blob)
        if request != key[1] or zlib.crc32(payload) != crc:
            return None
        if not inputs.unchanged(inputs.Inputs(contents=contents, probes=probes)):
            log.debug("project cache: %s is out of date", path)
            return None
        entry = Entry(name=str(name), warnings=tuple(map(str, warnings)), payload=bytes(payload),
                      path=path)
    except Exception as exc:  # a torn or foreign entry: load as if it were not there
        log.debug("project cache: ignoring entry %s: %s", path, exc)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # a hit is a use: keeps it among the entries pruning keeps
    return entry


def store(options: LoadOptions, seen: inputs.Inputs, loaded: LoadedStack) -> None:
    """Remember ``loaded``, the result of a load that looked at ``seen``."""
    key = cache_key(options)
    if key is None or not seen.replayable:
        return
    import pickle

    stack = loaded.stack
    contents = dict(seen.contents)
    for obj in (*stack.secrets.values(), *stack.configs.values()):
        if obj.file is not None:
            contents.setdefault(os.path.abspath(obj.file), inputs.read_bytes(obj.file))
    try:
        payload = pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL)
        header = (stack.name, loaded.warnings)
        blob = marshal.dumps((key[1], contents, dict(seen.probes), header, zlib.crc32(payload),
                              payload))
    except Exception as exc:  # an unpicklable value: just do not cache
        log.debug("project cache: cannot store %s: %s", key[0], exc)
        return
    d = cache_dir()
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        cachedir.write_atomic(d / key[0], blob)
        cachedir.prune(d, limit=CACHE_ENTRIES)
    except OSError as exc:  # read-only home, full disk: the load still worked
        log.debug("project cache: cannot store %s: %s", key[0], exc)


def _code_stamp() -> tuple[tuple[int, int, int] | None, ...]:
    names = sorted(e.path for e in os.scandir(_LOADER_DIR) if e.name.endswith(".py"))
    return tuple(file_stamp(n) for n in (*names, *map(str, _CODE)))


def file_stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


