"""The Dockerfile word lexer: word splitting, quote removal and variable expansion.

Follows the rules Docker documents for environment replacement: ``$VAR``,
``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``,
``${VAR+alt}``, ``${VAR:?message}``; the escape character before ``$`` makes it
literal; nothing expands inside single quotes; inside double quotes the escape
character only escapes ``"``, ``$`` and itself.

Pure: no I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from runtime.errors import InvalidArgument

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_SPACE = frozenset(" \t\r\n")


def split_raw(text: str, *, escape: str = "\\") -> list[str]:
    """Split on unquoted, unescaped whitespace; quotes and escapes are KEPT (parse time)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    in_word = False
    while i < len(text):
        ch = text[i]
        if not quote and ch in _SPACE:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        in_word = True
        current.append(ch)
        if ch == escape and quote != "'" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        i += 1
    if in_word:
        words.append("".join(current))
    return words


class _Lexer:
    """One pass over a word: expansion and quote removal; ``split`` also cuts at whitespace."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str, split: bool,
                 quotes: bool = True) -> None:
        self.text = text
        self.env = env
        self.escape = escape
        self.split = split
        self.quotes = quotes  # False: a heredoc body, where quotes are plain characters
        self.pos = 0
        self.used: set[str] = set()

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        ch = self._peek()
        self.pos += 1
        return ch

    def words(self, stop: str = "") -> list[str]:
        """Lex until ``stop`` (a closing brace, unescaped and unquoted) or the end."""
        words: list[str] = []
        current: list[str] = []
        in_word = False
        while self.pos < len(self.text):
            ch = self._peek()
            if stop and ch == stop:
                break
            if self.split and ch in _SPACE:
                self.pos += 1
                if in_word:
                    words.append("".join(current))
                    current, in_word = [], False
                continue
            in_word = True
            self.pos += 1
            if ch == self.escape and not self.quotes:
                if self._peek() in ("$", self.escape):
                    current.append(self._next())
                else:
                    current.append(ch)
            elif ch == self.escape:
                nxt = self._next()
                current.append(nxt if nxt else ch)
            elif not self.quotes and ch in "'\"":
                current.append(ch)
            elif ch == "'":
                current.append(self._single_quoted())
            elif ch == '"':
                current.append(self._double_quoted())
            elif ch == "$":
                value = self._dollar()
                if self.split and any(c in _SPACE for c in value):
                    # An unquoted expansion is split into words, as a shell would.
                    head, *rest = value.replace("\t", " ").replace("\n", " ").split(" ")
                    current.append(head)
                    for piece in rest:
                        if "".join(current):
                            words.append("".join(current))
                        current = [piece]
                else:
                    current.append(value)
            else:
                current.append(ch)
        if in_word or not words:
            words.append("".join(current))
        return words

    def _single_quoted(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise InvalidArgument(f"unexpected end of statement while looking for matching "
                                  f"single-quote in {self.text!r}")
        value = self.text[self.pos:end]
        self.pos = end + 1
        return value

    def _double_quoted(self) -> str:
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise InvalidArgument(f"unexpected end of statement while looking for matching "
                                      f"double-quote in {self.text!r}")
            ch = self._next()
            if ch == '"':
                return "".join(out)
            if ch == self.escape and self._peek() in ('"', "$", self.escape):
                out.append(self._next())
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)

    def _name(self) -> str:
        start = self.pos
        while self._peek() and self._peek() in _NAME_CHARS:
            self.pos += 1
        return self.text[start:self.pos]

    def _lookup(self, name: str) -> str | None:
        self.used.add(name)
        return self.env.get(name)

    def _dollar(self) -> str:
        ch = self._peek()
        if ch == "{":
            self.pos += 1
            return self._braced()
        if ch and ch in _NAME_CHARS:
            return self._lookup(self._name()) or ""
        return "$"

    def _braced(self) -> str:
        name = self._name()
        if not name:
            raise InvalidArgument(f"bad substitution in {self.text!r}: missing variable name")
        op = self._next()
        if op == "}":
            return self._lookup(name) or ""
        colon = op == ":"
        if colon:
            op = self._next()
        if op not in ("-", "+", "?"):
            raise InvalidArgument(f"unsupported modifier ({op or 'end'}) in substitution "
                                  f"{self.text!r}")
        # The word after the modifier is itself expanded, but never split.
        inner = _Lexer(self.text, self.env, self.escape, split=False)
        inner.pos = self.pos
        word = inner.words(stop="}")[0]
        self.used |= inner.used
        self.pos = inner.pos
        if self._next() != "}":
            raise InvalidArgument(f"missing '}}' in substitution {self.text!r}")
        value = self._lookup(name)
        is_set = value is not None and (value != "" or not colon)
        if op == "-":
            return value if is_set and value is not None else word
        if op == "+":
            return word if is_set else ""
        if not is_set:  # "?"
            raise InvalidArgument(f"{name}: {word or 'is not allowed to be unset'}")
        return value or ""


def expand(text: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """One word: variables expanded, quotes removed, whitespace kept (ENV, LABEL, WORKDIR...)."""
    return _Lexer(text, env, escape, split=False).words()[0]


def expand_heredoc(text: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """A heredoc body: variables expanded, quotes and whitespace left as they are."""
    return _Lexer(text, env, escape, split=False, quotes=False).words()[0]


def expand_words(text: str, env: Mapping[str, str], *, escape: str = "\\") -> list[str]:
    """Several words: split at unquoted whitespace, then expanded; empty results dropped."""
    return [w for w in _Lexer(text, env, escape, split=True).words() if w]


def names_used(text: str, env: Mapping[str, str], *, escape: str = "\\") -> set[str]:
    """The variable names ``text`` refers to (for cache keys)."""
    lexer = _Lexer(text, env, escape, split=True)
    with contextlib.suppress(InvalidArgument):
        lexer.words()
    return lexer.used
