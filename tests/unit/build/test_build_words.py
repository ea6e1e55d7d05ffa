"""The word lexer: Docker's documented environment replacement rules."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.build.words import expand, expand_words, names_used, split_raw

ENV = {"A": "alpha", "EMPTY": "", "SP": "a b"}


@pytest.mark.parametrize(("text", "expected"), [
    ("$A", "alpha"),
    ("${A}", "alpha"),
    ("x${A}y", "xalphay"),
    ("$A/bin", "alpha/bin"),
    ("${MISSING:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${A:-def}", "alpha"),
    ("${A:+set}", "set"),
    ("${EMPTY:+set}", ""),
    ("${EMPTY+set}", "set"),
    ("${MISSING+set}", ""),
    ("${MISSING:-$A}", "alpha"),
    (r"\$A", "$A"),
    (r"\${A}", "${A}"),
    ("'$A'", "$A"),
    ('"$A b"', "alpha b"),
    (r'"a\"b"', 'a"b'),
    ('"a\\nb"', "a\\nb"),
    ("$", "$"),
    ("$1", ""),
    ("a   b", "a   b"),
])
def test_expand(text: str, expected: str) -> None:
    assert expand(text, ENV) == expected


def test_expand_words_splits_unquoted_whitespace_and_expansions() -> None:
    assert expand_words('a "b c" $SP d', ENV) == ["a", "b c", "a", "b", "d"]
    assert expand_words('x"$SP"y x${SP}y', ENV) == ["xa by", "xa", "by"]


def test_expand_with_backtick_escape() -> None:
    assert expand("`$A", ENV, escape="`") == "$A"


def test_required_variable_error_names_it() -> None:
    with pytest.raises(InvalidArgument, match="MISSING: must be set"):
        expand("${MISSING:?must be set}", ENV)


def test_unterminated_quote_is_an_error() -> None:
    with pytest.raises(InvalidArgument, match="double-quote"):
        expand('"abc', ENV)


def test_split_raw_keeps_quotes() -> None:
    assert split_raw('a="b c" d \\ e') == ['a="b c"', "d", "\\ e"]


def test_names_used() -> None:
    assert names_used("$A ${B:-$C} '$D'", {}) == {"A", "B", "C"}


def test_expand_heredoc_keeps_quotes() -> None:
    from runtime.images.build.words import expand_heredoc

    text = 'echo "$A" \'$A\' \\$A \\n\n'
    assert expand_heredoc(text, ENV) == "echo \"alpha\" 'alpha' $A \\n\n"
