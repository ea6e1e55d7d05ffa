"""Resolve ``extends`` (``extends: base`` and ``extends: {service, file}``).

Each service that extends another is the base (itself resolved first, so
chains work) merged with the service by the ``merge`` rules, the extending
service winning. A base from another file is read from that file (a path
relative to the extending file's directory); relative paths in it (build
context, env_file, bind-mount sources, ...) are made absolute against that
file's directory, since they meant that. Cycles are errors that name them:
``service "a" extends itself: a -> b -> a``.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError, CycleError, FileNotFoundStackError
from orchestrator.loader import inputs
from orchestrator.loader.markers import Override
from orchestrator.loader.merge import merge_service, strip_markers
from orchestrator.loader.source import SourceMap

log = logging.getLogger(__name__)

# Reads another stack file for a base service: (path) -> (data, sources), interpolated.
FileReader = Callable[[Path], tuple[dict[str, Any], SourceMap]]


def apply_extends(
    data: dict[str, Any],
    sources: SourceMap,
    *,
    file: Path,
    project_directory: Path,
    read_file: FileReader,
) -> dict[str, Any]:
    """``data`` with every ``extends`` resolved; ``sources`` is updated in place."""
    services = data.get("services")
    if not isinstance(services, dict) or not any(
        isinstance(s, dict) and "extends" in s for s in services.values()
    ):
        return data
    state = _FileState(path=file, services=dict(services), sources=sources)
    extender = _Extender(read_file=read_file, project_directory=project_directory, root=state)
    for name in list(services):
        extender.resolve(state, name, [(file, name)])
    return {**data, "services": state.services}


@dataclass(slots=True, kw_only=True)
class _FileState:
    path: Path
    services: dict[str, Any]
    sources: SourceMap
    done: dict[str, Any] = field(default_factory=dict)


class _Extender:
    __slots__ = ("files", "project_directory", "read_file", "root")

    def __init__(self, *, read_file: FileReader, project_directory: Path, root: _FileState) -> None:
        self.read_file = read_file
        self.project_directory = project_directory
        self.root = root
        self.files: dict[Path, _FileState] = {root.path: root}

    def resolve(self, state: _FileState, name: str, chain: list[tuple[Path, str]]) -> Any:
        if name in state.done:
            return state.done[name]
        service = state.services[name]
        if isinstance(service, Override):
            service = service.value
        if not isinstance(service, dict) or "extends" not in service:
            state.done[name] = service
            return service
        at = ("services", name, "extends")
        ref, ref_file = self._reference(state, name, service["extends"])
        base_state = state
        if ref_file is not None:
            base_state = self._file_state(state, name, ref_file)
        if ref not in base_state.services:
            where = f" in {ref_file}" if ref_file is not None else ""
            known = sorted(str(k) for k in base_state.services if k != name or ref_file is not None)
            guess = difflib.get_close_matches(ref, known, n=1, cutoff=0.6)
            raise ConfigError(
                f'cannot extend service "{name}" in {state.path}: service "{ref}" not found{where}',
                location=state.sources.locate(at), path=at,
                hint=f'did you mean "{guess[0]}"?' if guess else
                f"services there: {', '.join(known)}" if known else
                "define the service to extend, or name another file with `file:`",
            )
        step = (base_state.path, ref)
        if step in chain:
            raise CycleError(
                f'service "{chain[0][1]}" extends itself: {self._render([*chain, step])}',
                location=state.sources.locate(at), path=at,
            )
        base = self.resolve(base_state, ref, [*chain, step])
        if not isinstance(base, dict):
            base = {}
        base = strip_markers(base)
        if base_state.path.parent != state.path.parent and (
            base_state.path.parent != self.project_directory
        ):
            base = absolutize_service(base, base_dir=base_state.path.parent)
        merged = merge_service(
            base, base_sources=base_state.sources, base_path=("services", ref),
            over=service, over_sources=state.sources, over_path=("services", name),
            out_sources=state.sources, name=name,
        )
        merged.pop("extends", None)
        state.services[name] = merged
        state.done[name] = merged
        return merged

    def _reference(self, state: _FileState, name: str, extends: Any) -> tuple[str, Path | None]:
        at = ("services", name, "extends")
        extends = strip_markers(extends)
        if isinstance(extends, str) and extends:
            return extends, None
        if isinstance(extends, dict):
            ref = extends.get("service")
            if not isinstance(ref, str) or not ref:
                raise ConfigError(f'service "{name}" has an extends without a service name',
                                  location=state.sources.locate(at), path=at,
                                  hint="write `extends: {service: base}` or `extends: base`")
            file = extends.get("file")
            if file is None:
                return ref, None
            if not isinstance(file, str) or not file:
                raise ConfigError(f'service "{name}" has an extends.file that is not a path',
                                  location=state.sources.locate((*at, "file")), path=(*at, "file"))
            return ref, Path(file)
        raise ConfigError(f'service "{name}" has an invalid extends: expected a service name '
                          f"or a mapping with `service` (and `file`)",
                          location=state.sources.locate(at), path=at)

    def _file_state(self, state: _FileState, name: str, ref_file: Path) -> _FileState:
        path = Path(os.path.normpath(state.path.parent / os.path.expanduser(ref_file)))
        cached = self.files.get(path)
        if cached is not None:
            return cached
        at = ("services", name, "extends", "file")
        if not inputs.is_file(path):
            raise FileNotFoundStackError(
                f'cannot extend service "{name}": file {path} not found',
                location=state.sources.locate(at), path=at,
            )
        data, sources = self.read_file(path)
        services = data.get("services")
        if not isinstance(services, dict):
            raise ConfigError(
                f'cannot extend service "{name}" in {state.path}: {path} has no services section',
                location=state.sources.locate(at), path=at,
            )
        new = _FileState(path=path, services=dict(services), sources=sources)
        self.files[path] = new
        return new

    def _render(self, chain: list[tuple[Path, str]]) -> str:
        home = chain[0][0]
        return " -> ".join(n if f == home else f"{n} ({f.name})" for f, n in chain)


# -- relative paths of a service read from another directory -------------------------------


def _is_remote(value: str) -> bool:
    return "://" in value or value.startswith(("git@", "github.com/")) or value.startswith("service:")


def _absolute(value: Any, base_dir: Path) -> Any:
    if not isinstance(value, str) or not value or _is_remote(value):
        return value
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return expanded
    return os.path.normpath(os.path.join(base_dir, expanded))


def _bind_source(value: str, base_dir: Path) -> str:
    """Short volume syntax: ``./data:/data`` -> ``/abs/data:/data``; named volumes untouched."""
    source, sep, rest = value.partition(":")
    if not sep or not source.startswith((".", "~")):
        return value
    return f"{_absolute(source, base_dir)}:{rest}"


def absolutize_service(service: dict[str, Any], *, base_dir: Path) -> dict[str, Any]:
    """A copy of ``service`` whose relative file paths are made absolute against ``base_dir``.

    Pure (no I/O; ``~`` expands from $HOME). Paths: build context and additional contexts,
    env_file, label_file, bind-mount sources, develop.watch paths.
    """
    out = dict(service)
    build = out.get("build")
    if isinstance(build, str):
        out["build"] = _absolute(build, base_dir)
    elif isinstance(build, dict):
        build = dict(build)
        if "context" in build:
            build["context"] = _absolute(build["context"], base_dir)
        extra = build.get("additional_contexts")
        if isinstance(extra, dict):
            build["additional_contexts"] = {k: _absolute(v, base_dir) for k, v in extra.items()}
        elif isinstance(extra, list):
            build["additional_contexts"] = [
                f"{k}={_absolute(v, base_dir)}" if sep else item
                for item in extra
                for k, sep, v in [str(item).partition("=")]
            ]
        out["build"] = build
    for key in ("env_file", "label_file"):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = _absolute(value, base_dir)
        elif isinstance(value, list):
            out[key] = [
                {**item, "path": _absolute(item.get("path"), base_dir)} if isinstance(item, dict)
                else _absolute(item, base_dir)
                for item in value
            ]
    volumes = out.get("volumes")
    if isinstance(volumes, list):
        out["volumes"] = [_volume(v, base_dir) for v in volumes]
    develop = out.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        out["develop"] = {**develop, "watch": [
            {**w, "path": _absolute(w.get("path"), base_dir)} if isinstance(w, dict) else w
            for w in develop["watch"]
        ]}
    return out


def _volume(value: Any, base_dir: Path) -> Any:
    if isinstance(value, str):
        return _bind_source(value, base_dir)
    if isinstance(value, dict) and value.get("type") == "bind" and "source" in value:
        return {**value, "source": _absolute(value["source"], base_dir)}
    return value
