"""Fuzzing the whole loader: random and mutated stack files never crash it.

Every outcome is either a loaded stack or a StackError that says where (a
file position, or at least a path). 1,200 files: random YAML structures built
from the words a stack file uses, mutations of the golden corpus's data
(wrong types, misspelt keys, bad ports, strings with "$" and braces) and of
its text (broken YAML and interpolation); plus 200 more whose `stack config`
output must load back to the same stack. About 15 s on an idle machine.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.cli.config_cmd import yaml_text
from orchestrator.errors import StackError
from orchestrator.loader.load import LoadOptions, load_project
from orchestrator.serialize import escape_dollars, stack_to_dict

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "compose"
SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

WORDS = [
    "services", "networks", "volumes", "secrets", "configs", "name", "image", "build", "context",
    "ports", "environment", "env_file", "depends_on", "condition", "healthcheck", "test",
    "deploy", "replicas", "resources", "limits", "memory", "cpus", "restart", "command",
    "entrypoint", "profiles", "aliases", "ipv4_address", "external", "driver", "target",
    "published", "source", "type", "bind", "tmpfs", "size", "extends", "service", "file",
    "network_mode", "volumes_from", "links", "container_name", "scale", "x-ext", "web", "db",
    "default", "ulimits", "labels", "include", "path", "required", "interval", "secrets",
]
WEIRD = ["$", "$$", "${", "${}", "${A", "${A:-", "${A:?err}", "$A", "}", "{}", "${A:-${B}}",
         "8080:80", "80:80/udp", "[::1]:80:80", "a:b:c:d", "-1", "1e9", "0x10", "~", "", " ",
         "service:web", "./x:/y:ro", "\x00", "é", "💥", "yes", "null", "1m30s", "512m"]

scalar = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False), st.sampled_from(WEIRD), st.sampled_from(WORDS),
    st.text(max_size=12),
)
key = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=8))
value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=5)),
    max_leaves=25,
)


def _service_doc() -> st.SearchStrategy[dict[str, Any]]:
    service = st.dictionaries(st.sampled_from(WORDS), value, max_size=6)
    return st.fixed_dictionaries(
        {"services": st.dictionaries(st.sampled_from(["web", "db", "api", "w-1"]), service,
                                     min_size=1, max_size=3)},
        optional={"networks": value, "volumes": value, "x-top": value, "name": scalar},
    )


random_doc = st.one_of(value, _service_doc())


def _corpus() -> list[dict[str, Any]]:
    docs = []
    for case in sorted(CORPUS.iterdir()):
        f = case / "compose.yaml"
        if f.exists():
            docs.append(yaml.safe_load(f.read_text()))
    return docs


CORPUS_DOCS = _corpus()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_doc(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(CORPUS_DOCS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        how = draw(st.sampled_from(["replace", "rename", "weird", "delete", "wrap"]))
        if how == "replace":
            parent[last] = draw(value)
        elif how == "weird":
            parent[last] = draw(st.sampled_from(WEIRD))
        elif how == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"x": parent[last]}
        elif how == "delete":
            if isinstance(parent, dict):
                del parent[last]
            else:
                parent.pop(last)
        elif isinstance(parent, dict) and isinstance(last, str) and last:
            i = draw(st.integers(min_value=0, max_value=len(last) - 1))
            parent[last[:i] + last[i + 1:] + draw(st.sampled_from(["", "s", "_"]))] = parent.pop(last)
    return doc


CORPUS_TEXTS = [
    (case / "compose.yaml").read_text() for case in sorted(CORPUS.iterdir())
    if (case / "compose.yaml").exists()
]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    """A corpus file with a few characters inserted, deleted or replaced: broken YAML,
    broken interpolation, tabs, stray colons."""
    text = draw(st.sampled_from(CORPUS_TEXTS))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(st.integers(min_value=0, max_value=len(text)))
        piece = draw(st.one_of(st.sampled_from(["$", "${", "}", ":", "- ", "\t", "\n  ", "'", '"',
                                                "[", "{", "&a", "*a", "!!binary ", "<<: *a"]),
                               st.text(max_size=3)))
        cut = draw(st.integers(min_value=0, max_value=3))
        text = text[:i] + piece + text[i + cut:]
    return text


def _load(doc: Any) -> dict[str, Any] | None:
    """The serialized stack for ``doc`` (YAML text or data), None for a StackError."""
    if isinstance(doc, str):
        text = doc
    else:
        try:
            text = yaml.safe_dump(doc, allow_unicode=True)
        except yaml.YAMLError:
            text = json.dumps(doc, default=str)
    with tempfile.TemporaryDirectory(prefix="stack-fuzz-") as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        opts = LoadOptions(files=(path,), environ={"A": "1", "HOME": tmp}, working_dir=Path(tmp))
        try:
            return stack_to_dict(load_project(opts).stack)
        except StackError as exc:
            assert exc.location is not None or exc.path, f"no location or path: {exc!r}\n{text}"
            return None
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{type(exc).__name__}: {exc}\n--- stack file ---\n{text}")
    return None  # pragma: no cover (pytest.fail raises)


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    os.environ.pop("COMPOSE_FILE", None)


@SETTINGS
@given(random_doc)
def test_random_documents(doc: Any) -> None:
    _load(doc)


@SETTINGS
@given(mutated_doc())
def test_mutated_corpus(doc: Any) -> None:
    _load(doc)


@SETTINGS
@given(mutated_text())
def test_mutated_text(text: str) -> None:
    _load(text)


@settings(SETTINGS, max_examples=200)
@given(mutated_doc())
def test_config_output_reads_back_the_same(doc: Any) -> None:
    """Whatever loads, `stack config` prints as a file that loads to the same stack."""
    first = _load(doc)
    if first is not None:
        text = yaml_text(escape_dollars(first))
        assert _load(text) == first, text
