"""include: short and long forms, own directory and env, conflicts, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, CycleError, FileNotFoundStackError
from orchestrator.loader.load import LoadOptions, RawStack, load_raw

FIXTURES = Path(__file__).parents[2] / "fixtures" / "loader"


def load(directory: Path, **kw: object) -> RawStack:
    return load_raw(LoadOptions(working_dir=directory, **kw))  # type: ignore[arg-type]


def test_included_files_use_their_own_directory_and_env() -> None:
    root = FIXTURES / "include_basic"
    raw = load(root)
    assert raw.data == {
        "services": {
            "web": {"image": "web", "depends_on": ["db", "cache"]},
            "db": {"image": "postgres:16",
                   "volumes": [f"{root}/sub/pgdata:/var/lib/postgresql/data"],
                   "env_file": f"{root}/sub/db.env"},
            "cache": {"image": "redis:7"},
        },
        "secrets": {"pw": {"file": f"{root}/sub/pw.txt"}},
    }
    assert str(raw.sources.locate(("services", "db", "image"))) == f"{root}/sub/db.yaml:3:5"


def test_including_environment_wins_over_included_env_file() -> None:
    raw = load(FIXTURES / "include_basic", environ={"PG_TAG": "17", "REDIS_TAG": "6"})
    assert raw.data["services"]["db"]["image"] == "postgres:17"
    assert raw.data["services"]["cache"]["image"] == "redis:6"


def test_conflict_with_including_file() -> None:
    root = FIXTURES / "include_conflict"
    with pytest.raises(ConfigError) as info:
        load(root)
    assert str(info.value) == (
        f'{root}/compose.yaml:4:3: service "db" conflicts with imported resource\n'
        f"  {root}/compose.yaml defines it, and so does {root}/sub/db.yaml "
        f"(included at {root}/compose.yaml:2:5)\n"
        "  hint: remove one of the two definitions, or rename one"
    )


def test_identical_definition_is_not_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "inc.yaml").write_text("services:\n  db: {image: pg}\n")
    (tmp_path / "compose.yaml").write_text("include: [inc.yaml]\nservices:\n  db: {image: pg}\n")
    assert load(tmp_path).data == {"services": {"db": {"image": "pg"}}}


def test_cycle_is_printed_as_a_chain() -> None:
    root = FIXTURES / "include_cycle"
    with pytest.raises(CycleError) as info:
        load(root)
    assert str(info.value) == (
        f"{root}/nested/b.yaml:2:5: include[0]: include cycle: "
        "compose.yaml -> nested/a.yaml -> nested/b.yaml -> compose.yaml"
    )


def test_missing_included_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("include:\n  - path: [nope.yaml]\nservices: {}\n")
    with pytest.raises(FileNotFoundStackError) as info:
        load(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/compose.yaml:2:5: include[0]: included file {tmp_path}/nope.yaml not found"
    )


def test_long_form_path_list_and_project_directory(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.yaml").write_text("services:\n  a: {image: a, build: ./src}\n")
    (tmp_path / "lib" / "a.override.yaml").write_text("services:\n  a: {image: a2}\n")
    (tmp_path / "compose.yaml").write_text(
        "include:\n  - path: [lib/a.yaml, lib/a.override.yaml]\n    project_directory: proj\n"
        "services:\n  web: {image: w}\n"
    )
    data = load(tmp_path).data
    assert data["services"]["a"] == {"image": "a2", "build": f"{tmp_path}/proj/src"}


def test_include_must_be_a_list(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("include: x.yaml\nservices: {}\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == f"{tmp_path}/compose.yaml:1:1: include: include must be a list"


def test_a_service_may_extend_an_included_one(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "db.yaml").write_text(
        "services:\n  db:\n    image: pg\n    volumes: ['./data:/data']\n    environment: [X=1, Y=1]\n"
    )
    (tmp_path / "compose.yaml").write_text(
        "include: [lib/db.yaml]\nservices:\n  db2:\n    extends: db\n    environment: {X: '2'}\n"
    )
    raw = load(tmp_path)
    assert raw.data["services"]["db2"] == {
        "image": "pg", "volumes": [f"{tmp_path}/lib/data:/data"], "environment": {"X": "2", "Y": "1"},
    }
    assert str(raw.sources.locate(("services", "db2", "image"))) == f"{tmp_path}/lib/db.yaml:3:5"
    assert str(raw.sources.locate(("services", "db2", "environment", "X"))) == (
        f"{tmp_path}/compose.yaml:5:19"
    )
