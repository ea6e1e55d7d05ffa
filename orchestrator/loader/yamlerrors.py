"""Turn the YAML parser's errors into plain words, with where and what to do.

PyYAML reports what its state machine saw ("did not find expected key while
parsing a block mapping"); people made a different mistake: a tab, a quote left
open, a line indented one space off, a value holding ``: ``. We look at the
marks and the text around them to name that mistake. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.errors import ConfigError, Location

_ALIAS = re.compile(r"\*([^\s,\[\]{}]+)")
_KEY_LINE = re.compile(r"^\s*(?:-\s+)?[^\s:#][^:#]*:(?:\s|$)")  # `key:` or `- key:` at line start


def yaml_error(exc: Any, *, text: str, file: str) -> ConfigError:
    """A ``ConfigError`` for ``exc`` (a ``yaml.MarkedYAMLError``) raised on ``text``.

    The data has no structure yet, so the dotted path is read off the indentation:
    the keys of the lines above that enclose the place (a good guess, never used
    for anything but the message).
    """
    error = _describe(exc, text=text, file=file)
    if error.location is not None:
        error.path = _enclosing_keys(text.split("\n"), error.location.line - 1,
                                     error.location.column - 1)
    return error


def _describe(exc: Any, *, text: str, file: str) -> ConfigError:
    problem = str(exc.problem or exc.context or exc)
    context = str(exc.context or "")
    mark, start = exc.problem_mark, exc.context_mark
    lines = text.split("\n")
    here = _loc(file, mark) if mark is not None else Location(file=file, line=1, column=1)

    if problem.startswith("found character that cannot start any token") and _char(lines, mark) == "\t":
        return ConfigError("a tab character is used for indentation", location=here,
                           hint="YAML indents with spaces only: replace the tab with spaces")
    if problem == "found unexpected end of stream" and "quoted scalar" in context and start is not None:
        return ConfigError("a quoted string is never closed", location=_loc(file, start),
                           hint="add the closing quote at the end of the value on this line")
    if problem == "found undefined alias" and mark is not None:
        found = _ALIAS.match(lines[mark.line][mark.column:]) if mark.line < len(lines) else None
        name = found.group(1) if found else "?"
        return ConfigError(f"alias *{name} refers to an anchor that is not defined", location=here,
                           hint=f"define it with &{name} earlier in the same file, or fix the name")
    if problem.startswith("did not find expected ',' or") and start is not None:
        bracket = "[" if "sequence" in context else "{"
        closing = "]" if bracket == "[" else "}"
        return ConfigError(f"a `{bracket}` opened here is not closed", location=_loc(file, start),
                           hint=f"close it with `{closing}` or add the missing `,` between items")
    if problem == "did not find expected key" and mark is not None and start is not None:
        opened = _open_quote(lines, start.line, mark.line)
        if opened is not None:
            number, column = opened
            return ConfigError(
                "a quoted string is not closed on its line",
                location=Location(file=file, line=number + 1, column=column + 1),
                detail=f"YAML went on reading it up to line {mark.line + 1}",
                hint="add the closing quote at the end of the value on this line",
            )
        return ConfigError(
            "this line is indented like none of the entries of the block it is in",
            location=here,
            hint=f"line it up with the entries it belongs with (the enclosing block starts "
                 f"at line {start.line + 1}, column {start.column + 1})",
        )
    if problem == "mapping values are not allowed in this context" and mark is not None:
        line = lines[mark.line] if mark.line < len(lines) else ""
        if ": " in line[: mark.column] or not _KEY_LINE.match(line):
            return ConfigError("a plain value contains `: `", location=here,
                               hint='put the value in quotes, e.g. command: "echo a: b"')
        return ConfigError(
            "a key is read as part of the value on the line above", location=here,
            hint="if that line's key has no `:`, add it; otherwise indent this line like the keys above",
        )
    detail = context if exc.problem and exc.context else None
    return ConfigError(f"invalid YAML: {problem}", location=here, detail=detail,
                       hint="check the indentation and the quotes on this line and the one above")


def _loc(file: str, mark: Any) -> Location:
    return Location(file=file, line=mark.line + 1, column=mark.column + 1)


def _char(lines: list[str], mark: Any) -> str:
    if mark is None or mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return ""
    return str(lines[mark.line][mark.column])


def _open_quote(lines: list[str], first: int, last: int) -> tuple[int, int] | None:
    """(line, column) of a value opened with a quote and left open on its line, if any."""
    for number in range(first, min(last, len(lines))):
        line = lines[number]
        found = re.match(r"^\s*(?:-\s+)?(?:[^\s\"'][^:]*:\s+)?([\"'])", line)
        if found is None:
            continue
        quote = found.group(1)
        rest = line[found.end():]
        closed = rest.replace('\\"', "").count('"') if quote == '"' else rest.replace("''", "").count("'")
        if closed == 0:
            return number, found.start(1)
    return None


_KEY = re.compile(r"^(\s*)(?:-\s+)?([^\s\"'#:\[\]{},&*!|>-][^:#]*?|\"[^\"]*\"|'[^']*'):(?:\s|$)")


def _enclosing_keys(lines: list[str], number: int, column: int) -> tuple[str | int, ...]:
    """Keys of the lines above ``number`` that are less indented, outermost first; and
    the key of line ``number`` itself when ``column`` falls in its value."""
    if not 0 <= number < len(lines):
        return ()
    line = lines[number].expandtabs(8)  # a tab indents "more", which is what its writer meant
    indent = len(line) - len(line.lstrip(" ")) if line.strip() else 1 << 30
    keys: list[str] = []
    own = _KEY.match(line)
    if own is not None and column >= own.end():
        keys.append(own.group(2).strip("\"'"))
    for above in reversed(lines[:number]):
        found = _KEY.match(above)
        if found is None or not above.strip() or above.lstrip().startswith("#"):
            continue
        depth = len(found.group(1))
        if depth < indent:
            keys.append(found.group(2).strip("\"'"))
            indent = depth
            if depth == 0:
                break
    return tuple(reversed(keys))
