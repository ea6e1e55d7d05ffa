"""Docker's .dockerignore rules.

A line is a pattern (``#`` lines and blank lines are ignored). Patterns are
cleaned like Go's ``filepath.Clean`` and a leading ``/`` is dropped, so
``/foo`` and ``foo`` both mean "foo at the context root". Matching follows
``filepath.Match`` (``*`` and ``?`` never cross ``/``, ``[a-z]`` / ``[^a-z]``
classes, ``\\`` escapes) plus ``**``, which matches any number of directories
(zero included). A pattern that matches a directory matches everything below
it. ``!pattern`` re-includes; the LAST matching line decides.

Pure: no I/O (``read_patterns`` takes the file's text).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runtime.errors import InvalidArgument

_REGEX_SPECIAL = frozenset(".+()|{}$^")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    text: str  # the cleaned pattern, without "!"
    exclusion: bool  # a "!" line: re-includes what it matches
    regex: re.Pattern[str]
    dirs: tuple[str, ...]  # the pattern's path components (for walking)

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else "."
    # normpath keeps a leading "//"; Go's Clean does not.
    while cleaned.startswith("//"):
        cleaned = cleaned[1:]
    return cleaned


def to_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        i += 1
        if in_class:
            if ch == "]":
                in_class = False
                out.append("]")
            elif ch == "\\" and i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            elif ch == "^" and out[-1] == "[":
                out.append("^")
            elif ch == "-":
                out.append("-")
            else:
                out.append(re.escape(ch))
            continue
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                # "**" at the end matches everything; elsewhere any number of dirs, even 0.
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape("\\"))
        elif ch == "[":
            in_class = True
            out.append("[")
        elif ch in _REGEX_SPECIAL or ch == "]":
            out.append("\\" + ch)
        else:
            out.append(ch)
    if in_class:
        raise InvalidArgument(f'.dockerignore pattern "{pattern}": unterminated character class')
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:
        raise InvalidArgument(f'.dockerignore pattern "{pattern}": {exc}') from exc


def compile_pattern(line: str) -> Pattern | None:
    """One line of a .dockerignore; None for comments and blank lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    exclusion = text.startswith("!")
    if exclusion:
        text = text[1:].strip()
        if not text:
            raise InvalidArgument('.dockerignore: illegal exclusion pattern: "!"')
    text = _clean(text)
    if len(text) > 1 and text.startswith("/"):
        text = text[1:]
    return Pattern(text=text, exclusion=exclusion, regex=to_regex(text),
                   dirs=tuple(text.split("/")))


def read_patterns(text: str) -> list[Pattern]:
    return [p for line in text.splitlines() if (p := compile_pattern(line)) is not None]


class Matcher:
    """Answers "is this context path excluded?" for slash-separated relative paths."""

    def __init__(self, patterns: Iterable[Pattern | str]) -> None:
        compiled: list[Pattern] = []
        for p in patterns:
            if isinstance(p, str):
                c = compile_pattern(p)
                if c is not None:
                    compiled.append(c)
            else:
                compiled.append(p)
        self.patterns: Sequence[Pattern] = tuple(compiled)
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """True when the last pattern matching ``path`` or one of its parents is not a "!"."""
        path = _clean(path)
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            # An include can only flip "excluded" back, an exclude only set it.
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path)
            if not hit:
                hit = any(pattern.matches("/".join(parents[: i + 1]))
                          for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, directory: str) -> bool:
        """Could a "!" pattern re-include something under an excluded ``directory``?

        Conservative: True when any exclusion pattern could match a path below it,
        so the walker only prunes what is surely excluded.
        """
        if not self.has_exclusions:
            return False
        parts = _clean(directory).split("/")
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            if "**" in pattern.text:
                return True
            # Compare the directory's components with the pattern's leading ones.
            if len(pattern.dirs) <= len(parts):
                continue
            prefix = "/".join(pattern.dirs[: len(parts)])
            if to_regex(prefix).match("/".join(parts)):
                return True
        return False
