"""yamlread: plain data, positions, anchors/merge keys, tags, and error texts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, FileNotFoundStackError
from orchestrator.loader.yamlread import RESET, Override, read_yaml, read_yaml_file


def read(text: str) -> tuple[dict, dict]:
    doc = read_yaml(text, file="f.yaml")
    return doc.data, {k: str(v) for k, v in doc.sources.positions.items()}


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        read_yaml(text, file="f.yaml")
    return str(info.value)


def test_plain_data_and_positions() -> None:
    data, pos = read("services:\n  web:\n    image: nginx\n    ports:\n      - 80\n      - '81'\n")
    assert data == {"services": {"web": {"image": "nginx", "ports": [80, "81"]}}}
    assert pos[("services", "web")] == "f.yaml:2:3"
    assert pos[("services", "web", "image")] == "f.yaml:3:5"
    assert pos[("services", "web", "ports", 0)] == "f.yaml:5:9"
    assert pos[("services", "web", "ports", 1)] == "f.yaml:6:9"
    assert pos[()] == "f.yaml:1:1"


def test_scalars_follow_yaml_1_2_core_schema() -> None:
    data, _ = read(
        "a: yes\nb: on\nc: 0o17\nd: 017\ne: 0x1f\nf: 1.5\ng: ~\nh:\ni: .inf\nj: True\n"
        "k: '1'\nl: 2026-01-01\nm: !!str 12\nn: -.inf\n"
    )
    assert data["a"] == "yes" and data["b"] == "on"
    assert data["c"] == 15 and data["d"] == 15 and data["e"] == 31
    assert data["f"] == 1.5 and data["g"] is None and data["h"] is None
    assert data["i"] == math.inf and data["n"] == -math.inf and data["j"] is True
    assert data["k"] == "1" and data["l"] == "2026-01-01" and data["m"] == "12"


@pytest.mark.parametrize(("text", "value"), [
    ("0440", 0o440), ("010", 8), ("-010", -8), ("0", 0), ("09", 9.0), ("1_000", 1000),
    ("0b101", 5), ("0O17", 15), ("0X1f", 31), ("+12", 12), ("0x", "0x"), ("1e3", 1000.0),
    ("99999999999999999999", 1e20), ("1.2.3", "1.2.3"), ("12:30", "12:30"),
])
def test_numbers_read_as_go_yaml_reads_them(text: str, value: object) -> None:
    # checked against Docker Compose v2.40 (go-yaml v3): a leading zero is octal
    data, _ = read(f"v: {text}\n")
    assert data["v"] == value and type(data["v"]) is type(value)


def test_non_string_keys_become_strings() -> None:
    data, _ = read("1: a\ntrue: b\n")
    assert data == {"1": "a", "true": "b"}


def test_anchors_are_copied_not_shared() -> None:
    data, _ = read("x: &a {k: [1]}\ny: *a\n")
    assert data["x"] == data["y"]
    data["x"]["k"].append(2)
    assert data["y"] == {"k": [1]}


def test_merge_key_explicit_wins_and_position_is_explicit() -> None:
    data, pos = read("x: &b\n  image: a\n  tty: true\nweb:\n  <<: *b\n  image: b\n")
    assert data["web"] == {"image": "b", "tty": True}
    assert pos[("web", "image")] == "f.yaml:6:3"
    assert pos[("web", "tty")] == "f.yaml:3:3"


def test_merge_key_list_earlier_mapping_wins() -> None:
    data, _ = read("a: &a {k: 1, x: 1}\nb: &b {k: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
    assert data["c"] == {"k": 1, "x": 1, "y": 2}


def test_reset_and_override_tags_become_markers() -> None:
    data, _ = read("ports: !reset []\nenv: !override {A: 1}\nx: !override 3\ny: !reset\n")
    assert data["ports"] is RESET
    assert data["env"] == Override({"A": 1})
    assert data["x"] == Override(3)
    assert data["y"] is RESET


def test_duplicate_key_names_both_places() -> None:
    assert error("services:\n  web:\n    image: a\n    image: b\n") == (
        'f.yaml:4:5: services.web.image: mapping key "image" already defined at f.yaml:3:5\n'
        "  hint: a key may appear once in a mapping: keep one of them"
    )


def test_syntax_error_has_location_no_traceback() -> None:
    assert error("services:\n  web: [a\n") == (
        "f.yaml:2:8: services.web: a `[` opened here is not closed\n"
        "  hint: close it with `]` or add the missing `,` between items"
    )


def test_bad_indentation() -> None:
    assert error("a:\n  b: 1\n c: 2\n") == (
        "f.yaml:3:2: a: this line is indented like none of the entries of the block it is in\n"
        "  hint: line it up with the entries it belongs with (the enclosing block starts "
        "at line 1, column 1)"
    )


def test_empty_file() -> None:
    assert error("# nothing\n") == (
        "f.yaml:1:1: the stack file is empty\n"
        "  hint: a stack file needs at least a top-level `services:` mapping"
    )


def test_top_level_must_be_mapping() -> None:
    assert error("- a\n- b\n") == "f.yaml:1:1: top-level object must be a mapping\n  found a sequence"


def test_unknown_tag() -> None:
    assert error("a: !env X\n") == (
        "f.yaml:1:4: a: unsupported YAML tag !env\n  hint: only !reset and !override are understood"
    )


def test_recursive_alias() -> None:
    assert error("a: &x [1, *x]\n") == (
        "f.yaml:1:4: a[1]: recursive alias: a node contains an alias to itself"
    )


def test_undefined_alias() -> None:
    assert error("a: *nope\n") == (
        "f.yaml:1:4: a: alias *nope refers to an anchor that is not defined\n"
        "  hint: define it with &nope earlier in the same file, or fix the name"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundStackError) as info:
        read_yaml_file(tmp_path / "x.yaml", display="x.yaml")
    assert str(info.value) == "stack file x.yaml not found"


def test_several_documents() -> None:
    assert error("a: 1\n---\nb: 2\n") == (
        "f.yaml:2:1: the stack file holds more than one YAML document\n"
        "  hint: keep one document per file; pass several files with -f to merge them"
    )


def test_tab_indentation() -> None:
    assert error("a:\n\tb: 1\n") == (
        "f.yaml:2:1: a: a tab character is used for indentation\n"
        "  hint: YAML indents with spaces only: replace the tab with spaces"
    )


def test_too_deep() -> None:
    assert error("a: " + "[" * 150 + "]" * 150 + "\n") == (
        "f.yaml:1:104: the document is nested more than 100 levels deep"
    )


def test_alias_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orchestrator.loader.yamlread.MAX_NODES", 1000)
    text = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    text += "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    assert error(text).endswith("the document is too large once its aliases are expanded")
