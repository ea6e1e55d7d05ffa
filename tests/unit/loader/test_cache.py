"""The project cache: a hit returns what a fresh load would; any changed input misses."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.loader import cache
from orchestrator.loader import load as load_mod
from orchestrator.loader.load import LoadedStack, LoadOptions, load_project, open_project

Load = Callable[..., LoadedStack]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def fresh_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[LoadOptions]:
    """The options of every load that ran the stages (a miss); the cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ran: list[LoadOptions] = []
    real = load_mod._load_project

    def spy(options: LoadOptions) -> LoadedStack:
        ran.append(options)
        return real(options)

    monkeypatch.setattr(load_mod, "_load_project", spy)
    return ran


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    write(d / "compose.yaml", (
        "services:\n"
        "  web:\n"
        "    image: 'nginx:${TAG}'\n"
        "    env_file: web.env\n"
        "    secrets: [token]\n"
        "    extends: {file: base.yaml, service: base}\n"
        "secrets:\n"
        "  token: {file: token.txt}\n"
    ))
    write(d / "base.yaml", "services:\n  base:\n    command: [sleep, '1']\n")
    write(d / ".env", "TAG=1.25\n")
    write(d / "web.env", "MODE=prod\n")
    write(d / "token.txt", "s3cret\n")
    return d


def loader(directory: Path, **kw: object) -> Load:
    def run(**more: object) -> LoadedStack:
        return load_project(LoadOptions(working_dir=directory, **{**kw, **more}))  # type: ignore[arg-type]

    return run


def test_hit_returns_an_equal_load(project: Path, fresh_loads: list[LoadOptions]) -> None:
    load = loader(project, environ={"HOME": "/root"})
    first = load()
    second = load()
    assert len(fresh_loads) == 1  # the second came from the cache
    assert second.stack == first.stack
    assert second.stack.services["web"].image == "nginx:1.25"
    assert second.stack.services["web"].environment == {"MODE": "prod"}
    assert second.stack.services["web"].command == ("sleep", "1")
    assert (second.warnings, second.all_profiles) == (first.warnings, first.all_profiles)
    assert second.raw.data == first.raw.data
    assert second.sources.positions == first.sources.positions


def test_hit_repeats_the_warnings(tmp_path: Path, fresh_loads: list[LoadOptions]) -> None:
    write(tmp_path / "compose.yaml", "version: '3'\nservices:\n  a: {image: '${UNSET_X}x'}\n")
    load = loader(tmp_path)
    assert load().warnings == load().warnings != ()
    assert len(fresh_loads) == 1


def test_hit_leaves_the_model_in_the_cache_until_asked(project: Path,
                                                      fresh_loads: list[LoadOptions]) -> None:
    options = LoadOptions(working_dir=project)
    expected = load_project(options).stack
    opened = open_project(options)
    assert opened.name == "proj"
    assert opened._loaded is None  # not unpickled yet
    assert opened.loaded.stack == expected
    assert len(fresh_loads) == 1


@pytest.mark.parametrize(("change", "model_changes"), [
    pytest.param(lambda d: write(d / "compose.yaml", (d / "compose.yaml").read_text()
                                 .replace("nginx", "ngin2")), True, id="stack file, same size"),
    pytest.param(lambda d: write(d / "compose.override.yaml",
                                 "services:\n  web: {image: other}\n"), True,
                 id="new override file"),
    pytest.param(lambda d: write(d / "base.yaml", "services:\n  base:\n    command: [sleep, '2']\n"),
                 True, id="extends target"),
    pytest.param(lambda d: write(d / ".env", "TAG=1.26\n"), True, id=".env"),
    pytest.param(lambda d: (d / ".env").unlink(), True, id=".env removed"),
    pytest.param(lambda d: write(d / "web.env", "MODE=test\n"), True, id="env_file"),
    # the model names the secret's file only; its content goes into the config hash
    pytest.param(lambda d: write(d / "token.txt", "s3cre7\n"), False, id="secret file"),
])
def test_a_changed_file_misses(project: Path, fresh_loads: list[LoadOptions],
                               change: Callable[[Path], object], model_changes: bool) -> None:
    load = loader(project)
    before = load()
    change(project)
    after = load()
    assert len(fresh_loads) == 2
    assert (after.stack != before.stack) is model_changes
    again = load()
    assert len(fresh_loads) == 2  # and the new load is cached in turn
    assert again.stack == after.stack


def test_a_changed_interpolation_variable_misses(project: Path,
                                                 fresh_loads: list[LoadOptions]) -> None:
    assert loader(project, environ={"TAG": "1"})().stack.services["web"].image == "nginx:1"
    assert loader(project, environ={"TAG": "2"})().stack.services["web"].image == "nginx:2"
    assert loader(project, environ={"TAG": "1"})().stack.services["web"].image == "nginx:1"
    assert len(fresh_loads) == 2


def test_a_changed_request_misses(project: Path, fresh_loads: list[LoadOptions]) -> None:
    assert loader(project)().stack.name == "proj"
    assert loader(project, project_name="other")().stack.name == "other"
    assert loader(project / "..", files=(project / "compose.yaml",))().stack.name == "proj"
    assert len(fresh_loads) == 3


def test_an_included_file_change_misses(tmp_path: Path, fresh_loads: list[LoadOptions]) -> None:
    write(tmp_path / "compose.yaml", "include: [lib/db.yaml]\nservices:\n  a: {image: a}\n")
    write(tmp_path / "lib" / "db.yaml", "services:\n  db: {image: 'postgres:16'}\n")
    load = loader(tmp_path)
    assert load().stack.services["db"].image == "postgres:16"
    write(tmp_path / "lib" / "db.yaml", "services:\n  db: {image: 'postgres:17'}\n")
    assert load().stack.services["db"].image == "postgres:17"
    assert len(fresh_loads) == 2


def test_corrupt_entries_are_ignored(project: Path, fresh_loads: list[LoadOptions]) -> None:
    load = loader(project)
    expected = load().stack
    [entry] = list(cache.cache_dir().iterdir())
    blob = entry.read_bytes()
    for broken in (b"", b"garbage", blob[: len(blob) // 2], blob[:-40] + b"\0" * 40):
        entry.write_bytes(broken)
        assert load().stack == expected
    # a changed byte inside the pickled model that still unpickles: the checksum catches it
    at = blob.index(b"nginx:1.25", len(blob) // 2)
    entry.write_bytes(blob[:at] + b"nginx:6.66" + blob[at + 10:])
    assert load().stack == expected
    assert len(fresh_loads) == 6


def test_entries_not_the_users_own_are_ignored(project: Path,
                                              fresh_loads: list[LoadOptions]) -> None:
    load = loader(project)
    expected = load().stack
    [entry] = list(cache.cache_dir().iterdir())
    entry.chmod(0o666)
    assert load().stack == expected
    assert len(fresh_loads) == 2


def test_stdin_is_never_cached(tmp_path: Path, fresh_loads: list[LoadOptions],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    for image in ("a", "b"):
        monkeypatch.setattr("sys.stdin", io.StringIO(f"services:\n  s: {{image: {image}}}\n"))
        assert loader(tmp_path, files=(Path("-"),))().stack.services["s"].image == image
    assert len(fresh_loads) == 2
    assert not (tmp_path / "cache" / "stack" / "projects").exists()


def test_an_unwritable_cache_is_no_error(project: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         fresh_loads: list[LoadOptions]) -> None:
    write(tmp_path / "file", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file, not a directory
    load = loader(project)
    assert load().stack == load().stack
    assert len(fresh_loads) == 2
    assert os.path.isfile(tmp_path / "file")
