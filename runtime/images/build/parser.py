"""Dockerfile text -> Instructions.

Handles what Docker's parser handles: parser directives at the top
(``# syntax=``, ``# escape=``, ``# check=``), comments, line continuations
(comment and empty lines inside a continuation are dropped), ``--flag=value``
options, JSON (exec) and shell forms, and heredocs (``<<EOF``, ``<<-EOF``,
``<<"EOF"``) for RUN, COPY and ADD. Variables are NOT expanded here: that
needs the build's state (see ``plan`` and ``builder``).

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from runtime.errors import InvalidArgument
from runtime.images.build.words import split_raw

COMMANDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
})
# Commands whose arguments may be a JSON array (exec form).
JSON_FORM = frozenset({"ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME"})
HEREDOC_COMMANDS = frozenset({"ADD", "COPY", "RUN"})
KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
# The --flags each command takes; other commands take none (their text is kept whole).
FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "RUN": frozenset({"mount", "network", "security"}),
    "COPY": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "ADD": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval",
                              "retries"}),
}

_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_HEREDOC = re.compile(r"^(\d*)<<(-?)(.+)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Heredoc:
    name: str
    content: str  # with tabs stripped for <<-, every line ending in "\n"
    expand: bool  # False when the terminator was quoted
    fd: int | None = None  # 0 for "0<<EOF"


@dataclass(frozen=True, slots=True, kw_only=True)
class Instruction:
    command: str  # upper case: "RUN"
    flags: tuple[tuple[str, str | None], ...] = ()  # ("from", "build"), ("link", None)
    args: tuple[str, ...] = ()  # exec form: the array; shell form: see ``rest``
    rest: str = ""  # the text after the flags, as written (shell form)
    json_form: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    line: int = 0  # 1-based line of the command word
    end_line: int = 0
    original: str = ""  # the logical line as written (continuations joined)
    trigger: Instruction | None = None  # ONBUILD's instruction

    def flag(self, name: str) -> str | None:
        """The last value of ``--name`` ("" for a bare ``--name``), or None when absent."""
        found: str | None = None
        for key, value in self.flags:
            if key == name:
                found = "" if value is None else value
        return found

    def flag_all(self, name: str) -> list[str]:
        return ["" if v is None else v for k, v in self.flags if k == name]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    escape: str = "\\"
    syntax: str = ""
    directives: tuple[tuple[str, str], ...] = ()
    name: str = "Dockerfile"  # for messages: "Dockerfile:7"

    def where(self, instruction: Instruction) -> str:
        return f"{self.name}:{instruction.line}"


def _error(name: str, line: int, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{name}:{line}: {problem}")


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives: only at the very top; the first other line ends them."""
    found: dict[str, str] = {}
    index = 0
    for index, raw in enumerate(lines):
        match = _DIRECTIVE.match(raw.strip())
        if not match:
            return found, index
        key = match.group(1).lower()
        if key not in KNOWN_DIRECTIVES:
            return found, index  # unknown directives are comments, and end the directives
        if key in found:
            raise InvalidArgument(f"Dockerfile:{index + 1}: only one {key} parser directive "
                                  "can be used")
        found[key] = match.group(2)
    return found, len(lines)


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """Return (line without the trailing escape, continues?)."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[: -len(escape)], True
    return line, False


def _is_comment(line: str) -> bool:
    return line.lstrip(" \t").startswith("#")


def _split_flags(text: str, escape: str) -> tuple[tuple[tuple[str, str | None], ...], str]:
    """Leading ``--name[=value]`` words; returns (flags, the rest of the text as written)."""
    flags: list[tuple[str, str | None]] = []
    rest = text.lstrip()
    while rest.startswith("--"):
        word = split_raw(rest, escape=escape)[0]
        if word == "--":
            break
        body = word[2:]
        name, eq, value = body.partition("=")
        unquoted = value
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            unquoted = value[1:-1]
        flags.append((name.lower(), unquoted if eq else None))
        rest = rest[len(word):].lstrip()
    return tuple(flags), rest


def _json_array(text: str) -> tuple[str, ...] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _heredoc_names(rest: str, escape: str) -> list[tuple[str, bool, bool, int | None]]:
    """(name, expand, strip_tabs, fd) for each ``<<NAME`` word of the line."""
    out = []
    for word in split_raw(rest, escape=escape):
        match = _HEREDOC.match(word)
        if not match:
            continue
        fd = int(match.group(1)) if match.group(1) else None
        strip_tabs = match.group(2) == "-"
        name = match.group(3)
        quoted = len(name) >= 2 and name[0] == name[-1] and name[0] in "'\""
        if quoted:
            name = name[1:-1]
        if not name:
            continue
        out.append((name, not quoted, strip_tabs, fd))
    return out


def _make(command: str, text: str, *, escape: str, name: str, line: int, end_line: int,
          original: str, heredocs: tuple[Heredoc, ...]) -> Instruction:
    if command in FLAGS:
        flags, rest = _split_flags(text, escape)
        unknown = [k for k, _ in flags if k not in FLAGS[command]]
        if unknown:
            raise _error(name, line, f"unknown flag: --{unknown[0]} (for {command})")
    else:
        flags, rest = (), text.strip()
    trigger = None
    args: tuple[str, ...] = ()
    json_form = False
    if command == "ONBUILD":
        sub_command, _, sub_text = rest.strip().partition(" ")
        sub_command = sub_command.upper()
        if sub_command in ("ONBUILD", "FROM", "MAINTAINER"):
            raise _error(name, line, f"{sub_command} isn't allowed as an ONBUILD trigger")
        if sub_command not in COMMANDS:
            raise _error(name, line, f'unknown instruction "{sub_command}" in ONBUILD')
        trigger = _make(sub_command, sub_text, escape=escape, name=name, line=line,
                        end_line=end_line, original=rest.strip(), heredocs=())
    elif command in JSON_FORM and (array := _json_array(rest)) is not None:
        args, json_form = array, True
    elif command == "SHELL":
        raise _error(name, line, "SHELL requires the arguments to be in JSON form")
    else:
        args = tuple(split_raw(rest, escape=escape))
    return Instruction(command=command, flags=flags, args=args, rest=rest.strip(),
                       json_form=json_form, heredocs=heredocs, line=line, end_line=end_line,
                       original=original, trigger=trigger)


def parse(text: str, *, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile; ``InvalidArgument`` names ``name:line`` and the problem."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    lines = [raw.removesuffix("\r") for raw in lines]
    directives, index = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise InvalidArgument(f'{name}:1: invalid escape token "{escape}": must be ` or \\')
    instructions: list[Instruction] = []
    while index < len(lines):
        start = index
        raw = lines[index]
        index += 1
        if not raw.strip() or _is_comment(raw):
            continue
        logical, continues = _trim_continuation(raw.lstrip(" \t"), escape)
        while continues and index < len(lines):
            nxt = lines[index]
            index += 1
            if _is_comment(nxt) or not nxt.strip():
                continue
            piece, continues = _trim_continuation(nxt, escape)
            logical += piece
        if not logical.strip():
            continue
        command, _, text_rest = logical.strip().partition(" ")
        if "\t" in command:
            command, _, more = command.partition("\t")
            text_rest = more + " " + text_rest
        command = command.upper()
        if command not in COMMANDS:
            raise _error(name, start + 1, f'unknown instruction: {command}')
        heredocs: list[Heredoc] = []
        if command in HEREDOC_COMMANDS and "<<" in text_rest:
            _, after_flags = _split_flags(text_rest, escape)
            for doc_name, expand, strip_tabs, fd in _heredoc_names(after_flags, escape):
                body: list[str] = []
                while True:
                    if index >= len(lines):
                        raise _error(name, start + 1, f'unterminated heredoc "{doc_name}"')
                    content_line = lines[index]
                    index += 1
                    if strip_tabs:
                        content_line = content_line.lstrip("\t")
                    if content_line == doc_name:
                        break
                    body.append(content_line + "\n")
                heredocs.append(Heredoc(name=doc_name, content="".join(body), expand=expand,
                                        fd=fd))
        if command in ("FROM",) and not text_rest.strip():
            raise _error(name, start + 1, "FROM requires at least one argument")
        instructions.append(_make(command, text_rest, escape=escape, name=name,
                                  line=start + 1, end_line=index, original=logical.strip(),
                                  heredocs=tuple(heredocs)))
    return Dockerfile(instructions=tuple(instructions), escape=escape,
                      syntax=directives.get("syntax", ""),
                      directives=tuple(sorted(directives.items())), name=name)


def key_values(instruction: Instruction, *, escape: str = "\\",
               name: str = "Dockerfile") -> list[tuple[str, str | None]]:
    """ENV / LABEL / ARG arguments as raw (key, value) pairs, quotes kept (expand later).

    ``KEY=value ...`` pairs, or the legacy ``ENV KEY value with spaces`` form; ARG
    allows a bare ``NAME`` (value None).
    """
    words = split_raw(instruction.rest, escape=escape)
    if not words:
        raise _error(name, instruction.line, f"{instruction.command} requires at least one "
                     "argument")
    if instruction.command != "ARG" and "=" not in words[0]:
        key, _, value = instruction.rest.strip().partition(" ")
        value = value.strip()
        if not value:
            raise _error(name, instruction.line, f"{instruction.command} must have two "
                         "arguments")
        return [(key, value)]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq and instruction.command != "ARG":
            raise _error(name, instruction.line, f"Syntax error - can't find = in {word!r}. "
                         "Must be of the form: name=value")
        if not key:
            raise _error(name, instruction.line, f"{instruction.command} names must not be "
                         f"empty: {word!r}")
        pairs.append((key, value if eq else None))
    return pairs
