"""envfile: dotenv parsing with compose interpolation, precedence and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, FileNotFoundStackError, Location
from orchestrator.loader.envfile import parse_env, parse_raw_env, read_env_file, read_env_files


def test_values_quotes_comments_and_export() -> None:
    text = "A=1\n# comment\nexport B=\"two words\"\nC='lit $A'\nD = 4 # trailing\nE=\n"
    assert parse_env(text, file=".env", environ={}) == {
        "A": "1", "B": "two words", "C": "lit $A", "D": "4", "E": "",
    }


def test_interpolation_environment_first_then_earlier_keys() -> None:
    text = "A=file\nB=${A}-x\nC=${HOME_DIR:-none}/y\nD=${A:+set}\n"
    assert parse_env(text, file=".env", environ={"A": "shell"}) == {
        "A": "file", "B": "shell-x", "C": "none/y", "D": "set",
    }


def test_bare_key_takes_environment_value() -> None:
    assert parse_env("A\nB\n", file=".env", environ={"A": "from-shell"}) == {"A": "from-shell"}


def test_unparsable_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_env("A=1\n  what is this\n", file=".env", environ={})
    assert str(info.value) == (
        ".env:2:1: env file .env: cannot parse line 2\n  what is this\n"
        "  hint: lines are KEY=VALUE, # comments, or a bare KEY"
    )


def test_required_variable_in_env_file() -> None:
    with pytest.raises(ConfigError) as info:
        parse_env("A=${NOPE:?give NOPE}\n", file=".env", environ={})
    assert str(info.value) == (
        ".env:1:1: env file .env: required variable NOPE is missing a value: give NOPE"
    )


def test_missing_file_names_the_reference(tmp_path: Path) -> None:
    ref = Location(file="compose.yaml", line=4, column=5)
    with pytest.raises(FileNotFoundStackError) as info:
        read_env_file(tmp_path / "nope.env", environ={}, reference=ref,
                      reference_path=("services", "web", "env_file", 0))
    assert str(info.value) == (
        f"compose.yaml:4:5: services.web.env_file[0]: env file {tmp_path}/nope.env not found"
    )


def test_several_files_later_wins_and_sees_earlier(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\nB=1\n")
    (tmp_path / "b.env").write_text("B=2\nC=${A}${B}\n")
    assert read_env_files((tmp_path / "a.env", tmp_path / "b.env"), environ={}) == {
        "A": "1", "B": "2", "C": "12",
    }


def test_raw_format_takes_values_literally() -> None:
    # what Docker Compose v2.40 prints for the same file with `format: raw`
    text = ("# comment\nA=\"quoted\"\nB='single'\nC=${HOME}x\nD=a # not comment\nE= spaced \n"
            "G\n\nH=a=b\n  I=lead\nK=\"multi\nline\"\nL=tab\tx\t\r\nM=\n")
    assert parse_raw_env(text, file="raw.env", environ={"G": "shell", "HOME": "/root"}) == {
        "A": '"quoted"', "B": "'single'", "C": "${HOME}x", "D": "a # not comment", "E": " spaced ",
        "G": "shell", "H": "a=b", "I": "lead", "K": '"multi', "L": "tab\tx\t", "M": "",
    }


@pytest.mark.parametrize(("line", "summary"), [
    ("E =x", 'env file raw.env: variable name "E " contains whitespace'),
    ("export F=1", 'env file raw.env: variable name "export F" contains whitespace'),
    ("=x", "env file raw.env: line 2 has no variable name before `=`"),
])
def test_raw_format_rejects_what_compose_rejects(line: str, summary: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_raw_env(f"A=1\n{line}\n", file="raw.env", environ={})
    assert info.value.summary == summary
    assert info.value.location == Location(file="raw.env", line=2, column=1)


def test_service_env_file_format_raw_and_unknown_format(tmp_path: Path) -> None:
    from orchestrator.loader.load import LoadOptions, load_project

    (tmp_path / "raw.env").write_text("A='${X}'\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: x\n    env_file: [{path: raw.env, format: raw}]\n")
    loaded = load_project(LoadOptions(working_dir=tmp_path, environ={"X": "no"}))
    assert dict(loaded.stack.services["web"].environment) == {"A": "'${X}'"}
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: x\n    env_file: [{path: raw.env, format: ini}]\n")
    with pytest.raises(ConfigError) as info:
        load_project(LoadOptions(working_dir=tmp_path))
    assert str(info.value) == (
        f"{tmp_path}/compose.yaml:4:32: services.web.env_file[0].format: "
        'unsupported env_file format "ini"\n'
        "  hint: leave `format` out for the usual KEY=VALUE syntax, or use `format: raw`")
