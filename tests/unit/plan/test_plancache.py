"""The memo of empty plans: it answers only while the key, the model and the engine's
answers (less the fields that change by themselves) are what they were."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import plancache
from orchestrator.loader.load import LoadOptions, OpenedProject, open_project

STACK = "services:\n  app:\n    image: busybox:latest\n"
CONTAINERS = [{"id": "c1", "state": "running", "health": "healthy",
               "health_log": [{"start": 1.0, "exit_code": 0, "output": ""}]}]


class Engine:
    """Answers requests from a table; records like stackd's client does."""

    def __init__(self) -> None:
        self.answers: dict[str, object] = {"/containers?all=true": CONTAINERS, "/networks": []}
        self.sent: list[str] = []
        self._calls: list[plancache.Exchange] | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[plancache.Exchange]]:
        self._calls = []
        try:
            yield self._calls
        finally:
            self._calls = None

    def call(self, target: str) -> None:
        """What a call through the client does: send, and record the answer."""
        data = json.dumps(self.answers[target]).encode()
        if self._calls is not None:
            self._calls.append(("GET", target, None, data))

    def exchange(self, method: str, target: str, body: bytes | None) -> bytes | None:
        self.sent.append(target)
        answer = self.answers.get(target)
        return None if answer is None else json.dumps(answer).encode()


@pytest.fixture
def opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OpenedProject:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "stack.yaml").write_text(STACK)
    options = LoadOptions(files=(tmp_path / "stack.yaml",), environ={}, working_dir=tmp_path)
    open_project(options)  # a fresh load, stored in the loader cache
    hit = open_project(options)
    assert hit.entry is not None
    return hit


def remember_empty(engine: Engine, opened: OpenedProject, options: dict[str, object]
                   ) -> tuple[str, str]:
    key = plancache.key(opened, "up", options)
    assert key is not None
    with plancache.recording(engine) as calls:
        engine.call("/containers?all=true")
        engine.call("/networks")
    plancache.remember(opened, key, calls)
    return key


def test_same_answers_are_a_hit_and_replay_the_same_requests(opened: OpenedProject) -> None:
    engine = Engine()
    key = remember_empty(engine, opened, {"detach": True})
    assert plancache.still_empty(engine, opened, key)
    assert engine.sent == ["/containers?all=true", "/networks"]


def test_health_log_is_left_out_but_health_counts(opened: OpenedProject) -> None:
    engine = Engine()
    key = remember_empty(engine, opened, {"detach": True})
    engine.answers["/containers?all=true"] = [
        {**CONTAINERS[0], "health_log": [{"start": 2.0, "exit_code": 0, "output": "later"}]}]
    assert plancache.still_empty(engine, opened, key)
    engine.answers["/containers?all=true"] = [{**CONTAINERS[0], "health": "unhealthy"}]
    assert not plancache.still_empty(engine, opened, key)


@pytest.mark.parametrize("change", ["state", "gone", "error"])
def test_any_other_change_is_a_miss(opened: OpenedProject, change: str) -> None:
    engine = Engine()
    key = remember_empty(engine, opened, {"detach": True})
    if change == "state":
        engine.answers["/containers?all=true"] = [{**CONTAINERS[0], "state": "exited"}]
    elif change == "gone":
        engine.answers["/containers?all=true"] = []
    else:
        del engine.answers["/networks"]  # not a JSON answer any more
    assert not plancache.still_empty(engine, opened, key)


def test_other_options_or_another_model_miss(opened: OpenedProject, tmp_path: Path) -> None:
    engine = Engine()
    key = remember_empty(engine, opened, {"detach": True})
    other = plancache.key(opened, "up", {"detach": True, "no_deps": True})
    assert other is not None and other != key
    assert not plancache.still_empty(engine, opened, other)

    (tmp_path / "stack.yaml").write_text(STACK + "    command: [sleep, '1']\n")
    options = opened.options
    open_project(options)  # the edit is loaded and stored; its entry has another model
    edited = open_project(options)
    assert edited.entry is not None and edited.entry.payload != opened.entry.payload  # type: ignore[union-attr]
    assert plancache.key(edited, "up", {"detach": True}) == key  # same request ...
    assert not plancache.still_empty(engine, edited, key)  # ... but not the same model


def test_nothing_is_kept_without_recorded_calls(opened: OpenedProject) -> None:
    key = plancache.key(opened, "up", {})
    assert key is not None
    with plancache.recording(object()) as calls:  # an engine that cannot record
        assert calls is None
    plancache.remember(opened, key, calls)
    assert not plancache.still_empty(Engine(), opened, key)


def test_a_torn_memo_is_a_miss(opened: OpenedProject, tmp_path: Path) -> None:
    engine = Engine()
    key = remember_empty(engine, opened, {})
    (tmp_path / "cache" / "stack" / "plans" / key[0]).write_text("{not json")
    assert not plancache.still_empty(engine, opened, key)


def test_a_plan_of_one_model_is_not_remembered_for_another(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`up` loads afresh and plans; meanwhile the file is edited and another command
    stores the edit in the loader cache: the memo must not vouch for the edit."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "stack.yaml").write_text(STACK)
    options = LoadOptions(files=(tmp_path / "stack.yaml",), environ={}, working_dir=tmp_path)
    fresh = open_project(options)  # what `up` plans with
    assert fresh.entry is None
    (tmp_path / "stack.yaml").write_text(STACK + "    command: [sleep, '1']\n")
    open_project(options)  # `stack ps` in another terminal: the edit is stored
    engine = Engine()
    key = remember_empty(engine, fresh, {"detach": True})

    edited = open_project(options)
    assert edited.entry is not None
    assert not plancache.still_empty(engine, edited, key)


def test_a_fresh_load_is_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "stack.yaml").write_text(STACK)
    options = LoadOptions(files=(tmp_path / "stack.yaml",), environ={}, working_dir=tmp_path)
    fresh = open_project(options)
    assert fresh.entry is None
    engine = Engine()
    key = remember_empty(engine, fresh, {"detach": True})
    assert plancache.still_empty(engine, open_project(options), key)


@pytest.mark.parametrize("damage", ["no calls", "bad call", "answer not JSON"])
def test_a_memo_or_answer_out_of_shape_is_a_miss_not_an_error(
        opened: OpenedProject, tmp_path: Path, damage: str) -> None:
    engine = Engine()
    key = remember_empty(engine, opened, {})
    path = tmp_path / "cache" / "stack" / "plans" / key[0]
    memo = json.loads(path.read_text())
    if damage == "no calls":
        del memo["calls"]
    elif damage == "bad call":
        memo["calls"] = [["GET", "/networks"]]
    else:
        engine.exchange = lambda method, target, body: b"<html>"  # type: ignore[method-assign]
    path.write_text(json.dumps(memo))
    assert not plancache.still_empty(engine, opened, key)
