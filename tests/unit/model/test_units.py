from __future__ import annotations

import pytest

from orchestrator.units import format_duration, parse_bool, parse_duration, parse_int, parse_size


@pytest.mark.parametrize(("text", "seconds"), [
    ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("1.5s", 1.5), (10, 10.0), ("10", 10.0),
    ("1h2m3s", 3723.0), ("100us", 0.0001),
])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1x", "m", "1m30", "abc", "1s2"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (90, "1m30s"), (60, "1m0s"), (5, "5s"), (1.5, "1.5s"), (0.5, "500ms"), (7200, "2h0m0s"), (0, "0s"),
])
def test_format_duration_like_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("text", "size"), [
    ("512m", 512 * 2**20), ("1g", 2**30), ("64k", 65536), ("1gb", 2**30), (100, 100), ("100", 100),
    ("1.5g", int(1.5 * 2**30)), ("2MiB", 2 * 2**20),
])
def test_parse_size(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects() -> None:
    with pytest.raises(ValueError, match=r'^"lots" is not a size: use e.g. 512m, 1g, or a number of bytes$'):
        parse_size("lots")


def test_parse_bool_and_int() -> None:
    assert parse_bool("true") is True
    assert parse_bool("no") is False
    assert parse_int("42") == 42
    with pytest.raises(ValueError, match=r'^"maybe" is not a boolean: use true or false$'):
        parse_bool("maybe")
    with pytest.raises(ValueError, match=r'^"4x" is not an integer$'):
        parse_int("4x")
