"""project + discover: files, directory, environment, name and profiles precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, FileNotFoundStackError, UsageError
from orchestrator.loader.discover import find_stack_files
from orchestrator.loader.project import (
    files_from_environment,
    interpolation_environment,
    normalize_project_name,
    resolve_profiles,
    resolve_project_name,
)


def touch(path: Path, text: str = "services: {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- discovery ---------------------------------------------------------------------------


def test_discovery_in_parent_directory_with_override(tmp_path: Path) -> None:
    main = touch(tmp_path / "compose.yaml")
    override = touch(tmp_path / "compose.override.yaml")
    (tmp_path / "a" / "b").mkdir(parents=True)
    warnings: list[str] = []
    assert find_stack_files(tmp_path / "a" / "b", warnings=warnings) == (main, override)
    assert warnings == []


def test_discovery_order_and_warning(tmp_path: Path) -> None:
    touch(tmp_path / "stack.yaml")
    docker = touch(tmp_path / "docker-compose.yml")
    warnings: list[str] = []
    assert find_stack_files(tmp_path, warnings=warnings) == (docker,)
    assert warnings == [
        f"Found multiple config files with supported names: {docker}, {tmp_path / 'stack.yaml'}. "
        f"Using {docker}"
    ]


def test_discovery_prefers_matching_override(tmp_path: Path) -> None:
    main = touch(tmp_path / "stack.yml")
    touch(tmp_path / "compose.override.yaml")
    matching = touch(tmp_path / "stack.override.yml")
    warnings: list[str] = []
    assert find_stack_files(tmp_path, warnings=warnings) == (main, matching)
    assert len(warnings) == 1


def test_nearest_directory_wins(tmp_path: Path) -> None:
    touch(tmp_path / "compose.yaml")
    inner = touch(tmp_path / "sub" / "stack.yaml")
    assert find_stack_files(tmp_path / "sub", warnings=[]) == (inner,)


def test_nothing_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundStackError) as info:
        find_stack_files(tmp_path, warnings=[])
    assert str(info.value) == (
        f"no stack file found in {tmp_path} or its parent directories\n"
        "  looked for: compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml, "
        "stack.yaml, stack.yml\n"
        "  hint: name one with -f, or set STACK_FILE / COMPOSE_FILE"
    )


# -- files from the environment ----------------------------------------------------------


def test_stack_file_over_compose_file(tmp_path: Path) -> None:
    env = {"STACK_FILE": "a.yaml", "COMPOSE_FILE": "b.yaml"}
    assert files_from_environment(env, working_dir=tmp_path) == (tmp_path / "a.yaml",)


def test_compose_file_separators(tmp_path: Path) -> None:
    env = {"COMPOSE_FILE": f"a.yaml{os.pathsep}/x/b.yaml"}
    assert files_from_environment(env, working_dir=tmp_path) == (tmp_path / "a.yaml", Path("/x/b.yaml"))
    env = {"COMPOSE_FILE": "a.yaml,b.yaml", "COMPOSE_PATH_SEPARATOR": ","}
    assert files_from_environment(env, working_dir=tmp_path) == (tmp_path / "a.yaml", tmp_path / "b.yaml")


# -- project name ------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("My App", "myapp"), ("_-x.Y_z-1", "xy_z-1"), ("demo", "demo"), ("Ünï", "n"),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize_project_name(raw) == expected


def name(**kw: object) -> str:
    args: dict = {"explicit": None, "environ": {}, "top_level": None, "top_level_location": None,
                  "project_directory": Path("/srv/My_Project")}
    args.update(kw)
    return resolve_project_name(**args)


def test_name_precedence() -> None:
    env = {"STACK_PROJECT_NAME": "fromstack", "COMPOSE_PROJECT_NAME": "fromcompose"}
    assert name(explicit="cli", environ=env, top_level="top") == "cli"
    assert name(environ=env, top_level="top") == "fromstack"
    assert name(environ={"COMPOSE_PROJECT_NAME": "fromcompose"}, top_level="top") == "fromcompose"
    assert name(top_level="top") == "top"
    assert name() == "my_project"


def test_explicit_invalid_name_says_the_rule() -> None:
    with pytest.raises(UsageError) as info:
        name(explicit="My App")
    assert str(info.value) == (
        'invalid project name "My App" (from -p/--project-name): must consist only of lowercase '
        "alphanumeric characters, hyphens, and underscores as well as start with a letter or number\n"
        '  hint: try "myapp"'
    )


def test_top_level_name_is_normalised_as_compose_does() -> None:
    # Docker Compose v2.40 prints these names for these top-level `name:` values
    assert name(top_level="-bad") == "bad"
    assert name(top_level="My_App.Prod") == "my_appprod"
    assert name(top_level="Ab-C_d") == "ab-c_d"
    with pytest.raises(ConfigError) as info:
        name(top_level="-_")
    assert str(info.value) == ('name: the top-level name "-_" has no letters or digits\n'
                               "  hint: a project name is made of a-z, 0-9, `_` and `-`")


def test_underivable_name() -> None:
    with pytest.raises(UsageError) as info:
        name(project_directory=Path("/srv/___"))
    assert "project name cannot be derived" in str(info.value)


# -- environment and profiles --------------------------------------------------------------


def test_shell_wins_over_env_files(tmp_path: Path) -> None:
    a = touch(tmp_path / "a.env", "X=a\nY=a\nZ=a\n")
    b = touch(tmp_path / "b.env", "Y=b\nZ=b\n")
    env = interpolation_environment(environ={"Z": "shell"}, env_files=(a, b))
    assert (env["X"], env["Y"], env["Z"]) == ("a", "b", "shell")


def test_profiles() -> None:
    assert resolve_profiles(explicit=("a", "b,c"), environ={"COMPOSE_PROFILES": "x"}) == {"a", "b", "c"}
    assert resolve_profiles(explicit=(), environ={"COMPOSE_PROFILES": "x, y,"}) == {"x", "y"}
    assert resolve_profiles(explicit=(), environ={"STACK_PROFILES": "s", "COMPOSE_PROFILES": "x"}) == {"s"}
    assert resolve_profiles(explicit=(), environ={}) == frozenset()
