""".dockerignore rules, checked against the examples in Docker's documentation."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.build.dockerignore import Matcher, read_patterns

DOCS_EXAMPLE = """\
# comment
*/temp*
*/*/temp*
temp?
"""


@pytest.mark.parametrize(("path", "excluded"), [
    ("somedir/temporary.txt", True),
    ("somedir/temp", True),
    ("somedir/subdir/temporary.txt", True),
    ("tempa", True),
    ("tempb", True),
    ("temp", False),
    ("temporary.txt", False),
    ("a/b/c/temp.txt", False),
    ("# comment", False),
])
def test_docs_example(path: str, excluded: bool) -> None:
    assert Matcher(read_patterns(DOCS_EXAMPLE)).excluded(path) is excluded


@pytest.mark.parametrize(("path", "excluded"), [
    ("main.go", True),
    ("a/b/c.go", True),
    ("a/b/c.golang", False),
])
def test_double_star(path: str, excluded: bool) -> None:
    assert Matcher(["**/*.go"]).excluded(path) is excluded


def test_exception_re_includes() -> None:
    m = Matcher(["*.md", "!README.md"])
    assert m.excluded("CHANGES.md")
    assert not m.excluded("README.md")


def test_last_matching_line_wins() -> None:
    # "all markdown files except README files other than README-secret.md"
    m = Matcher(["*.md", "!README*.md", "README-secret.md"])
    assert m.excluded("CHANGES.md")
    assert not m.excluded("README.md")
    assert m.excluded("README-secret.md")
    # "all of the README files are included"
    m = Matcher(["*.md", "README-secret.md", "!README*.md"])
    assert not m.excluded("README-secret.md")
    assert not m.excluded("README-other.md")


def test_directory_pattern_excludes_everything_below() -> None:
    m = Matcher(["build", "/node_modules/"])
    assert m.excluded("build")
    assert m.excluded("build/out/app.bin")
    assert m.excluded("node_modules/x/index.js")
    assert not m.excluded("src/build.py")


def test_leading_slash_and_clean() -> None:
    m = Matcher(["/a/./b/../c", "./d"])
    assert m.excluded("a/c")
    assert m.excluded("d")


def test_double_star_middle_and_end() -> None:
    m = Matcher(["a/**/z", "logs/**"])
    assert m.excluded("a/z")
    assert m.excluded("a/b/c/z")
    assert not m.excluded("b/z")
    assert m.excluded("logs/x/y")


def test_character_classes_and_escapes() -> None:
    m = Matcher(["file[0-9].txt", "x[^ab]", "lit\\*"])
    assert m.excluded("file3.txt")
    assert not m.excluded("fileA.txt")
    assert m.excluded("xc")
    assert not m.excluded("xa")
    assert m.excluded("lit*")
    assert not m.excluded("lit1")


def test_star_does_not_cross_slash() -> None:
    assert not Matcher(["*.txt"]).excluded("dir/a.txt")
    assert Matcher(["*.txt"]).excluded("a.txt")


def test_exclusion_inside_excluded_directory() -> None:
    m = Matcher(["docs", "!docs/keep.md"])
    assert m.excluded("docs/other.md")
    assert not m.excluded("docs/keep.md")
    assert m.may_include_below("docs")
    assert not Matcher(["docs"]).may_include_below("docs")


def test_bad_patterns() -> None:
    with pytest.raises(InvalidArgument, match="illegal exclusion"):
        read_patterns("!\n")
    with pytest.raises(InvalidArgument, match="unterminated character class"):
        read_patterns("a[b\n")
