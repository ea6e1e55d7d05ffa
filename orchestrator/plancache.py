"""A memo of `up -d` runs that had nothing to do, so the next one can say so at once.

A plan is a pure function of the model, the command's options and the engine's
answers to ``observe`` (DESIGN.md, step 5). When ``up -d`` finds its plan empty,
it keeps the requests ``observe`` sent to stackd and a digest of the answers,
under a key made of the load request (files, environment: the loader cache's
key), the command's options and the planner's code. The next ``up -d`` with the
same key, whose loaded project is a loader-cache hit with a byte-identical
model, sends the same requests again: identical answers mean the identical plan,
empty, and ``up`` says "up to date" without unpickling the model, importing the
planner or decoding an answer. Parts of an answer the planner never reads and
that change by themselves (a container's ``health_log``) are left out of the
digest; everything else counts, so any change at all (a container restarted,
exited, a network gone, an image retagged) is a miss, and a miss is just the
full path. Nothing here is ever an error.

Only stackd's client can record and replay (its answers are bytes);
with the in-process engine every ``up`` plans in full.

Entries live beside the loader's caches (``$XDG_CACHE_HOME/stack/plans``, JSON,
mode 0700 directory), one per key, pruned like them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from orchestrator.loader import cache, cachedir

if TYPE_CHECKING:
    from orchestrator.loader.load import OpenedProject

log = logging.getLogger(__name__)

MEMO_VERSION: Final = 2  # 2: a "not found" answer is recorded too
MEMO_ENTRIES: Final = 64
_ORCHESTRATOR: Final = Path(__file__).resolve().parent
_RUNTIME: Final = _ORCHESTRATOR.parent / "runtime"
# answer fields the planner never reads and that change on their own
_VOLATILE: Final = ("health_log",)

# One request as sent: method, target (path and query), JSON body or None; and its answer.
Exchange = tuple[str, str, "bytes | None", bytes]


@runtime_checkable
class Recorder(Protocol):
    """What an engine needs to take part (``runtime.daemon.client.HttpEngine`` has it)."""

    def recording(self) -> contextlib.AbstractContextManager[list[Exchange]]: ...

    def exchange(self, method: str, target: str, body: bytes | None) -> bytes | None: ...


def key(opened: OpenedProject, command: str, options: Mapping[str, Any]) -> tuple[str, str] | None:
    """The memo's file name and the full key it stands for; None when the load cannot be
    cached (stdin), so neither can its plan."""
    load_key = cache.cache_key(opened.options)
    if load_key is None:
        return None
    text = repr((MEMO_VERSION, load_key[1], command, sorted(options.items()), _code_stamp()))
    data = text.encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}", text


@contextlib.contextmanager
def recording(engine: object) -> Iterator[list[Exchange] | None]:
    """The engine's requests while the block runs (None: this engine cannot record)."""
    if not isinstance(engine, Recorder):
        yield None
        return
    with engine.recording() as calls:
        yield calls


def still_empty(engine: object, opened: OpenedProject, memo_key: tuple[str, str]) -> bool:
    """True when the plan that was empty for ``memo_key`` is sure to be empty again."""
    from runtime.errors import EngineError

    if opened.entry is None or not isinstance(engine, Recorder):
        return False
    memo = _read(memo_key)
    if memo is None or memo.get("model") != _model_digest(opened.entry):
        return False
    answers = []
    try:
        for method, target, body in memo["calls"]:
            answer = engine.exchange(method, target, None if body is None else body.encode())
            if answer is None:
                return False
            answers.append(answer)
        hit = _digest(answers) == memo.get("answers")
    except EngineError as exc:  # the full path will say what is wrong, with context
        log.debug("plan memo: replay failed: %s", exc)
        return False
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a memo or an answer
        log.debug("plan memo: %s: out of shape: %r", memo_key[0], exc)  # not as written
        return False
    log.debug("plan memo %s: %s", memo_key[0], "hit" if hit else "the answers changed")
    return hit


def remember(opened: OpenedProject, memo_key: tuple[str, str],
             calls: Sequence[Exchange] | None) -> None:
    """Note that the plan made from ``calls``' answers was empty."""
    if calls is None or not calls:
        return
    entry = opened.entry
    if entry is None:
        # A fresh load was stored as it was made; but an edit loaded by another command
        # since then (the files are read again now) may have replaced it: only an entry
        # of this very model may vouch for this plan.
        entry = cache.lookup(opened.options)
        if entry is None or entry.payload != _pickled(opened):
            return
    memo = {"key": memo_key[1], "model": _model_digest(entry),
            "calls": [[m, t, None if b is None else b.decode()] for m, t, b, _ in calls],
            "answers": _digest(a for _, _, _, a in calls)}
    d = cachedir.cache_dir("plans")
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        cachedir.write_atomic(d / memo_key[0], json.dumps(memo).encode())
        cachedir.prune(d, limit=MEMO_ENTRIES)
    except OSError as exc:  # read-only home, full disk: `up` worked all the same
        log.debug("plan memo: cannot store %s: %s", memo_key[0], exc)


def _read(memo_key: tuple[str, str]) -> dict[str, Any] | None:
    try:
        memo = json.loads((cachedir.cache_dir("plans") / memo_key[0]).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(memo, dict) or memo.get("key") != memo_key[1]:
        return None
    return memo


def _pickled(opened: OpenedProject) -> bytes | None:
    """The loaded model as the loader cache stores it."""
    import pickle

    try:
        return pickle.dumps(opened.loaded, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # as the loader cache: an unpicklable value is just not kept
        return None


def _model_digest(entry: cache.Entry) -> str:
    import hashlib

    return hashlib.sha256(entry.payload).hexdigest()


def _digest(answers: Iterator[bytes] | Sequence[bytes]) -> str:
    """One digest of the answers in order, without the fields that change by themselves."""
    import hashlib

    h = hashlib.sha256()
    for raw in answers:
        data = json.loads(raw)
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                for name in _VOLATILE:
                    item.pop(name, None)
        h.update(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def _code_stamp() -> tuple[tuple[int, int, int] | None, ...]:
    """The code a plan comes from (the orchestrator's modules, the engine's types) and the
    code that decides which requests observe makes and how they are recorded."""
    names = sorted(e.path for e in os.scandir(_ORCHESTRATOR) if e.name.endswith(".py"))
    names += [str(_ORCHESTRATOR / "cli" / "project_cmds.py"), str(_RUNTIME / "api.py"),
              str(_RUNTIME / "daemon" / "codec.py"), str(_RUNTIME / "daemon" / "client.py")]
    return tuple(cache.file_stamp(n) for n in names)
