"""load: the front-end end to end (files, env, name, profiles) and load_project."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from orchestrator.errors import FileNotFoundStackError, UsageError
from orchestrator.loader.load import LoadOptions, RawStack, load_project, load_raw

FIXTURES = Path(__file__).parents[2] / "fixtures" / "loader"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(directory: Path, **kw: object) -> RawStack:
    return load_raw(LoadOptions(working_dir=directory, **kw))  # type: ignore[arg-type]


def test_basic_fixture() -> None:
    root = FIXTURES / "basic"
    raw = load(root / "app")  # found in the parent, with its override file and .env
    assert raw.files == (root / "compose.yaml", root / "compose.override.yaml")
    assert raw.project_directory == root
    assert raw.project_name == "basicdemo"  # COMPOSE_PROJECT_NAME from .env
    web = raw.data["services"]["web"]
    assert web["image"] == "nginx:latest"
    assert web["ports"] == ["9090:80"]
    assert web["environment"] == {"MODE": "prod", "EXTRA": "1"}
    assert web["restart"] == "unless-stopped"
    assert raw.data["services"]["db"]["image"] == "postgres:16"
    assert raw.environment["PG_TAG"] == "16"
    assert raw.warnings == ()
    assert raw.active_profiles == frozenset()


def test_env_precedence_shell_over_env_file(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  a: {image: '${A}-${B}-${C}'}\n")
    write(tmp_path / ".env", "A=dotenv\nB=dotenv\nC=dotenv\n")
    write(tmp_path / "custom.env", "A=custom\nB=custom\n")
    assert load(tmp_path).data["services"]["a"]["image"] == "dotenv-dotenv-dotenv"
    assert load(tmp_path, environ={"A": "shell"}).data["services"]["a"]["image"] == (
        "shell-dotenv-dotenv"
    )
    # --env-file replaces the default .env (as in compose), and the shell still wins
    raw = load(tmp_path, environ={"A": "shell"}, env_files=(Path("custom.env"),))
    assert raw.data["services"]["a"]["image"] == "shell-custom-"
    assert raw.warnings == ('The "C" variable is not set. Defaulting to a blank string.',)


def test_later_env_file_wins(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  a: {image: '${A}'}\n")
    write(tmp_path / "one.env", "A=one\n")
    write(tmp_path / "two.env", "A=two\n")
    raw = load(tmp_path, env_files=(Path("one.env"), Path("two.env")))
    assert raw.data["services"]["a"]["image"] == "two"


def test_missing_env_file(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services: {}\n")
    with pytest.raises(FileNotFoundStackError) as info:
        load(tmp_path, env_files=(Path("nope.env"),))
    assert str(info.value) == f"env file {tmp_path}/nope.env not found"


def test_compose_file_and_profiles_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path / "stacks" / "main.yaml", "services:\n  a: {image: a, profiles: [p]}\n")
    write(tmp_path / ".env", "COMPOSE_FILE=stacks/main.yaml\nCOMPOSE_PROFILES=p,q\n")
    raw = load(tmp_path, project_directory=tmp_path)
    assert raw.files == (tmp_path / "stacks" / "main.yaml",)
    assert raw.active_profiles == {"p", "q"}
    assert raw.project_name == tmp_path.name.lower().replace(".", "")


def test_explicit_files_project_directory_is_first_files_dir(tmp_path: Path) -> None:
    write(tmp_path / "a" / "one.yaml", "services:\n  a: {image: a}\n")
    write(tmp_path / "b" / "two.yaml", "name: fromfile\nservices:\n  a: {image: b}\n")
    raw = load(tmp_path, files=(Path("a/one.yaml"), Path("b/two.yaml")))
    assert raw.project_directory == tmp_path / "a"
    assert raw.project_name == "fromfile"
    assert raw.data["services"]["a"]["image"] == "b"
    assert load(tmp_path, files=(Path("a/one.yaml"),)).project_name == "a"


def test_project_name_precedence(tmp_path: Path) -> None:
    write(tmp_path / "My Dir" / "compose.yaml", "services: {}\n")
    d = tmp_path / "My Dir"
    assert load(d).project_name == "mydir"
    assert load(d, environ={"COMPOSE_PROJECT_NAME": "env"}).project_name == "env"
    assert load(d, environ={"COMPOSE_PROJECT_NAME": "env"}, project_name="cli").project_name == "cli"
    with pytest.raises(UsageError):
        load(d, project_name="Bad Name")


def test_missing_named_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundStackError) as info:
        load(tmp_path, files=(Path("nope.yaml"),))
    assert str(info.value) == f"stack file {tmp_path}/nope.yaml not found"


def test_no_file_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundStackError) as info:
        load(tmp_path)
    assert str(info.value).startswith(f"no stack file found in {tmp_path} or its parent directories")


def test_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("services:\n  a: {image: '${X:-x}'}\n"))
    raw = load(tmp_path, files=(Path("-"),))
    assert raw.data == {"services": {"a": {"image": "x"}}}
    assert raw.project_directory == tmp_path
    assert str(raw.sources.locate(("services", "a"))) == "stdin:2:3"


def test_version_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "compose.yaml", "version: '3.8'\nservices: {}\n")
    raw = load(tmp_path)
    assert "version" not in raw.data
    assert raw.warnings == (
        f"{path}: the attribute `version` is obsolete, it will be ignored, please remove it to "
        "avoid potential confusion",
    )


def test_no_interpolation(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  a: {image: '${X:?no}'}\n")
    assert load(tmp_path, interpolate=False).data["services"]["a"]["image"] == "${X:?no}"


def test_load_project_runs_the_back_end() -> None:
    loaded = load_project(LoadOptions(working_dir=FIXTURES / "basic"))
    stack = loaded.stack
    assert stack.name == "basicdemo"
    assert sorted(stack.services) == ["db", "web"]  # debug is in an inactive profile
    assert loaded.all_profiles == ("debug",)
    assert loaded.warnings == ()
    with_debug = load_project(LoadOptions(working_dir=FIXTURES / "basic", profiles=("debug",)))
    assert sorted(with_debug.stack.services) == ["db", "debug", "web"]


CASES = sorted(p.parent.name for p in FIXTURES.glob("*/expected.json"))


@pytest.mark.parametrize("case", CASES)
def test_fixture_expected_output(case: str) -> None:
    """Each ``tests/fixtures/loader/<case>/expected.json`` is the merged data of that case
    (files listed in ``files`` if present, else discovered), with an empty shell environment."""
    import json

    directory = FIXTURES / case
    listed = directory / "files"
    files = tuple(Path(n) for n in listed.read_text().split()) if listed.exists() else ()
    raw = load(directory, files=files)
    expected = json.loads((directory / "expected.json").read_text())
    assert raw.data == expected
    assert list(raw.data["services"]) == list(expected["services"])
