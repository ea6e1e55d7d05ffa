"""The files a load depended on, noted by the stages as they touch them.

Every stage that reads a file (stack files, extends / include targets, ``.env``
and ``env_file`` files, label files) reads it through ``read_text``, and every
stage that asks whether one exists (discovery, optional ``.env`` files, extends
and include targets) asks ``is_file``. While a ``Recording`` is active, each
read keeps the exact bytes the stage got and each question its answer; the
project cache (``cache.py``) compares them again before it trusts an entry.
Contents rather than size and mtime: a same-size rewrite within one tick of a
coarse file-system clock would otherwise go unseen, and the files are small.
Outside a recording both functions are the plain file-system calls.
"""

from __future__ import annotations

import os
from contextvars import ContextVar, Token
from pathlib import Path


class Inputs:
    """What one load looked at: path -> bytes read (None: could not be read), and
    path -> whether it was a regular file. (A plain class: this module is imported
    on every command, and a dataclass costs more to create than it saves here.)"""

    __slots__ = ("contents", "probes", "replayable")

    def __init__(self, *, contents: dict[str, bytes | None] | None = None,
                 probes: dict[str, bool] | None = None) -> None:
        self.contents = contents if contents is not None else {}
        self.probes = probes if probes is not None else {}
        self.replayable = True  # False: the load read something that cannot be checked again


def not_replayable() -> None:
    """Note that the load read an input that cannot be read again (stdin)."""
    seen = _current.get()
    if seen is not None:
        seen.replayable = False


_current: ContextVar[Inputs | None] = ContextVar("stack_load_inputs", default=None)


def read_text(path: Path) -> str:
    """``path.read_text(encoding="utf-8")`` (same errors, newlines made ``\\n``), noted."""
    data = path.read_bytes()
    seen = _current.get()
    if seen is not None:
        seen.contents.setdefault(os.path.abspath(path), data)
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def is_file(path: Path) -> bool:
    """``path.is_file()``, noted: a file appearing or vanishing later changes the load."""
    found = os.path.isfile(path)
    seen = _current.get()
    if seen is not None:
        seen.probes.setdefault(os.path.abspath(path), found)
    return found


def read_bytes(path: str) -> bytes | None:
    """The bytes of ``path``; None when it cannot be read (what ``contents`` holds)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def unchanged(inputs: Inputs) -> bool:
    """Whether every file reads and answers as it did when ``inputs`` was recorded."""
    return (all(os.path.isfile(p) is found for p, found in inputs.probes.items())
            and all(read_bytes(p) == data for p, data in inputs.contents.items()))


class Recording:
    """``with Recording() as seen:`` collects what the loads inside it looked at."""

    __slots__ = ("_token", "inputs")

    def __init__(self) -> None:
        self.inputs = Inputs()
        self._token: Token[Inputs | None] | None = None

    def __enter__(self) -> Inputs:
        self._token = _current.set(self.inputs)
        return self.inputs

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
