"""Resolve the top-level ``include:``.

Each entry (``- other.yaml`` or ``{path: str | list, project_directory,
env_file}``) is loaded as a project of its own: paths relative to the
including file's directory, its own project directory (default: the first
included file's directory) and env files (default: that directory's ``.env``),
the including project's environment winning over them. Its relative paths are
made absolute against its project directory, then its services, networks,
volumes, secrets and configs are added to the including file's. A resource
that the including file also defines, differently, is an error, as in compose:
``services.web conflicts with imported resource``. Cycles are printed
``a.yaml -> b.yaml -> a.yaml``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from orchestrator.errors import ConfigError, CycleError, FileNotFoundStackError
from orchestrator.loader import inputs
from orchestrator.loader.extends import absolutize_service
from orchestrator.loader.merge import strip_markers
from orchestrator.loader.source import SourceMap

log = logging.getLogger(__name__)

RESOURCES: Final = ("services", "networks", "volumes", "secrets", "configs")

# Loads files as one project: (files, project_directory, environment, include chain) -> model.
ModelLoader = Callable[[tuple[Path, ...], Path, dict[str, str], tuple[Path, ...]],
                       tuple[dict[str, Any], SourceMap]]


def apply_includes(
    data: dict[str, Any],
    sources: SourceMap,
    *,
    file: Path,
    environ: Mapping[str, str],
    chain: tuple[Path, ...],
    load_model: ModelLoader,
) -> dict[str, Any]:
    """``data`` with its includes loaded and imported; ``sources`` is updated in place.

    ``chain`` is the list of files being included, outermost first, ending with ``file``;
    ``load_model`` gets it as it is and appends each file it loads.
    """
    entries = data.get("include")
    if entries is None:
        return data
    entries = strip_markers(entries)
    if not isinstance(entries, list):
        raise ConfigError("include must be a list", location=sources.locate(("include",)),
                          path=("include",))
    result = {k: v for k, v in data.items() if k != "include"}
    for index, entry in enumerate(entries):
        at: tuple[str | int, ...] = ("include", index)
        paths, project_dir, env_files = _entry(entry, base=file.parent, at=at, sources=sources)
        for path in paths:
            if path in chain:
                raise CycleError(
                    f"include cycle: {_render((*chain, path))}",
                    location=sources.locate(at), path=at,
                )
            if not inputs.is_file(path):
                raise FileNotFoundStackError(
                    f"included file {path} not found", location=sources.locate(at), path=at,
                )
        from orchestrator.loader.envfile import read_env_files

        environment = {**read_env_files(env_files, environ=environ), **environ}
        included, included_sources = load_model(paths, project_dir, environment, chain)
        included = _absolutize(included, base_dir=project_dir)
        _import(result, sources, included, included_sources, at=at, file=file, included_file=paths[0])
    return result


def _entry(entry: Any, *, base: Path, at: tuple[str | int, ...], sources: SourceMap,
           ) -> tuple[tuple[Path, ...], Path, tuple[Path, ...]]:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict):
        raise ConfigError("include entries must be a path or a mapping with `path`",
                          location=sources.locate(at), path=at)
    raw = entry.get("path")
    raw_paths = [raw] if isinstance(raw, str) else raw
    if not raw_paths or not isinstance(raw_paths, list) or not all(
        isinstance(p, str) and p for p in raw_paths
    ):
        raise ConfigError("include entry needs a `path` (a file or a list of files)",
                          location=sources.locate(at), path=at)
    paths = tuple(_join(base, p) for p in raw_paths)
    project = entry.get("project_directory")
    project_dir = _join(base, project) if isinstance(project, str) and project else paths[0].parent
    raw_env = entry.get("env_file")
    if raw_env is None:
        candidate = project_dir / ".env"
        env_files: tuple[Path, ...] = (candidate,) if inputs.is_file(candidate) else ()
    else:
        names = [raw_env] if isinstance(raw_env, str) else raw_env
        if not isinstance(names, list):
            raise ConfigError("include env_file must be a path or a list of paths",
                              location=sources.locate((*at, "env_file")), path=(*at, "env_file"))
        env_files = tuple(_join(base, str(n)) for n in names if str(n) != "/dev/null")
    return paths, project_dir, env_files


def _join(base: Path, value: str) -> Path:
    return Path(os.path.normpath(base / os.path.expanduser(value)))


def _render(chain: tuple[Path, ...]) -> str:
    root = chain[0].parent
    return " -> ".join(os.path.relpath(p, root) for p in chain)


def _absolutize(data: dict[str, Any], *, base_dir: Path) -> dict[str, Any]:
    out = dict(data)
    services = out.get("services")
    if isinstance(services, dict):
        out["services"] = {
            name: absolutize_service(s, base_dir=base_dir) if isinstance(s, dict) else s
            for name, s in services.items()
        }
    for key in ("secrets", "configs"):
        section = out.get(key)
        if isinstance(section, dict):
            out[key] = {
                name: {**item, "file": _abs(item["file"], base_dir)}
                if isinstance(item, dict) and isinstance(item.get("file"), str) else item
                for name, item in section.items()
            }
    volumes = out.get("volumes")
    if isinstance(volumes, dict):
        out["volumes"] = {name: _bind_volume(v, base_dir) for name, v in volumes.items()}
    return out


def _abs(value: str, base_dir: Path) -> str:
    expanded = os.path.expanduser(value)
    return expanded if os.path.isabs(expanded) else os.path.normpath(base_dir / expanded)


def _bind_volume(volume: Any, base_dir: Path) -> Any:
    """A local volume with ``o: bind`` names a host directory in ``device``."""
    if not isinstance(volume, dict):
        return volume
    opts = volume.get("driver_opts")
    if not isinstance(opts, dict) or opts.get("o") != "bind" or not isinstance(opts.get("device"), str):
        return volume
    return {**volume, "driver_opts": {**opts, "device": _abs(opts["device"], base_dir)}}


def _import(
    target: dict[str, Any], sources: SourceMap, included: dict[str, Any], included_sources: SourceMap,
    *, at: tuple[str | int, ...], file: Path, included_file: Path,
) -> None:
    for key in RESOURCES:
        section = included.get(key)
        if not isinstance(section, dict) or not section:
            continue
        existing = target.get(key)
        if existing is not None and not isinstance(existing, dict):
            raise ConfigError(f"{key} must be a mapping", location=sources.locate((key,)), path=(key,))
        merged = dict(existing) if existing else {}
        for name, value in section.items():
            if name in merged:
                if strip_markers(merged[name]) == value:
                    continue
                raise ConfigError(
                    f'{key[:-1]} "{name}" conflicts with imported resource',
                    location=sources.locate((key, name)),
                    detail=f"{file} defines it, and so does {included_file} (included at "
                           f"{sources.locate(at)})",
                    hint="remove one of the two definitions, or rename one",
                )
            merged[name] = value
            copy_positions(value, included_sources, (key, name), sources)
        target[key] = merged
        if (key,) not in sources.positions:
            loc = included_sources.positions.get((key,))
            if loc is not None:
                sources.positions[(key,)] = loc


def copy_positions(value: Any, src: SourceMap, path: tuple[str | int, ...], dst: SourceMap) -> None:
    """Copy the positions of ``value`` (at ``path`` in ``src``) to the same paths in ``dst``."""
    loc = src.positions.get(path)
    if loc is not None:
        dst.positions[path] = loc
    if isinstance(value, dict):
        for k, v in value.items():
            copy_positions(v, src, (*path, k), dst)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            copy_positions(v, src, (*path, i), dst)
