"""Dockerfile parsing: directives, continuations, comments, forms, flags, heredocs."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.build.parser import key_values, parse


def test_directives_escape_and_continuations() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\n\nFROM busybox\nRUN echo a `\n"
               "  # a comment inside\n\n  b\n")
    assert df.escape == "`"
    assert df.syntax == "docker/dockerfile:1"
    run = df.instructions[1]
    assert run.command == "RUN"
    assert run.rest == "echo a   b"
    assert (run.line, run.end_line) == (5, 8)


def test_directive_after_comment_is_a_comment() -> None:
    df = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n")
    assert df.escape == "\\"
    assert df.instructions[1].rest == "a  b"


def test_json_and_shell_forms() -> None:
    df = parse('FROM x\nCMD ["a", "b c"]\nCMD a "b c"\nENTRYPOINT [not json\n'
               'SHELL ["/bin/bash", "-c"]\n')
    cmd_json, cmd_shell, entry, shell = df.instructions[1:]
    assert cmd_json.json_form and cmd_json.args == ("a", "b c")
    assert not cmd_shell.json_form and cmd_shell.rest == 'a "b c"'
    assert not entry.json_form
    assert shell.args == ("/bin/bash", "-c")


def test_shell_requires_json() -> None:
    with pytest.raises(InvalidArgument, match="Dockerfile:2: SHELL requires"):
        parse("FROM x\nSHELL /bin/bash -c\n")


def test_flags() -> None:
    df = parse("FROM --platform=linux/amd64 x AS b\n"
               "COPY --from=b --chown=1:2 --chmod=755 a /b\n"
               "RUN --mount=type=cache,target=/c --network=none make\n")
    frm, copy, run = df.instructions
    assert frm.flag("platform") == "linux/amd64"
    assert frm.rest == "x AS b"
    assert copy.flag("from") == "b" and copy.flag("chown") == "1:2"
    assert copy.args == ("a", "/b")
    assert run.flag_all("mount") == ["type=cache,target=/c"]
    assert run.rest == "make"
    assert copy.flag("missing") is None


def test_heredocs() -> None:
    df = parse("FROM x\nRUN <<EOF\necho $HOME\nEOF\n"
               "COPY <<-'CONF' /etc/app.conf\n\tkey=$v\n\tCONF\nRUN cat <<A <<B\n1\nA\n2\nB\n"
               "USER app\n")
    run, copy, two = df.instructions[1:4]
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo $HOME\n"
    assert run.heredocs[0].expand
    assert copy.heredocs[0].content == "key=$v\n" and not copy.heredocs[0].expand
    assert [h.content for h in two.heredocs] == ["1\n", "2\n"]
    assert df.instructions[4].command == "USER" and df.instructions[4].line == 13


def test_unterminated_heredoc() -> None:
    with pytest.raises(InvalidArgument, match='Dockerfile:2: unterminated heredoc "EOF"'):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_unknown_instruction_names_line() -> None:
    with pytest.raises(InvalidArgument, match="Dockerfile:3: unknown instruction: RUNN"):
        parse("FROM x\n\nRUNN echo\n", name="Dockerfile")


def test_onbuild_trigger() -> None:
    df = parse("FROM x\nONBUILD RUN echo hi\n")
    trigger = df.instructions[1].trigger
    assert trigger is not None and trigger.command == "RUN" and trigger.rest == "echo hi"
    with pytest.raises(InvalidArgument, match="isn't allowed"):
        parse("FROM x\nONBUILD FROM y\n")


def test_key_values() -> None:
    df = parse('FROM x\nENV A=1 B="two words" C=\nENV LEGACY some value\nARG X Y=2\n'
               "LABEL a.b=c\n")
    env, legacy, arg, label = df.instructions[1:]
    assert key_values(env) == [("A", "1"), ("B", '"two words"'), ("C", "")]
    assert key_values(legacy) == [("LEGACY", "some value")]
    assert key_values(arg) == [("X", None), ("Y", "2")]
    assert key_values(label) == [("a.b", "c")]
    with pytest.raises(InvalidArgument, match="can't find ="):
        key_values(parse("FROM x\nENV A=1 B\n").instructions[1])


def test_flags_are_checked_per_command() -> None:
    with pytest.raises(InvalidArgument, match=r"Dockerfile:2: unknown flag: --form \(for COPY\)"):
        parse("FROM x\nCOPY --form=a b c\n")
    cmd = parse("FROM x\nCMD --help\n").instructions[1]
    assert cmd.flags == () and cmd.rest == "--help"
