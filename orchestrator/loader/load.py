"""Run the loader stages in order.

``load_raw`` is the front-end: settle files, project directory, environment,
name and profiles (``project``, ``discover``), then per file read YAML ->
interpolate -> include -> extends, and merge the files in order. Its output is
plain, merged data with positions (profiles not yet applied).

``load_project`` adds the back-end: validate -> profiles -> normalize -> bind
-> checks, and returns the typed ``model.Stack``. It answers from the project
cache (``cache.py``) when no input of the last identical load has changed; the
stages note what they read through ``inputs.py`` so that the cache can tell.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.loader import cache, inputs

# The stages are imported where they run: a load answered from the cache
# (``cache.py``) imports none of them, nor yaml.
if TYPE_CHECKING:
    from orchestrator.loader.source import SourceMap
    from orchestrator.model import Stack

log = logging.getLogger(__name__)

STDIN = Path("-")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadOptions:
    files: tuple[Path, ...] = ()
    project_name: str | None = None
    project_directory: Path | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict)  # the shell environment
    working_dir: Path = Path(".")
    interpolate: bool = True
    services: tuple[str, ...] = ()  # services named on the command line (activate their profiles)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawStack:
    data: dict[str, Any]  # merged, interpolated, include/extends resolved (profiles NOT yet applied)
    sources: SourceMap
    project_name: str
    project_directory: Path
    files: tuple[Path, ...]
    environment: dict[str, str]  # what interpolation used (shell over env files)
    active_profiles: frozenset[str]
    warnings: tuple[str, ...]


def load_raw(options: LoadOptions) -> RawStack:
    """The front-end of the loader (see the module doc)."""
    from orchestrator.loader import project as proj
    from orchestrator.loader.discover import find_stack_files

    working_dir = options.working_dir.absolute()
    warnings: list[str] = []
    environ = dict(options.environ)
    explicit_dir = _absolute(options.project_directory, working_dir) if options.project_directory else None
    env_files = tuple(_absolute(p, working_dir) for p in options.env_files)

    files = tuple(p if p == STDIN else _absolute(p, working_dir) for p in options.files)
    early: tuple[tuple[Path, ...], dict[str, str]] | None = None
    if not files:
        # COMPOSE_FILE may come from the .env of the working (or given project) directory
        early_files = env_files or proj.default_env_files(explicit_dir or working_dir)
        early = early_files, proj.interpolation_environment(environ=environ, env_files=early_files)
        files = proj.files_from_environment(early[1], working_dir=working_dir)
        if not files:
            files = find_stack_files(working_dir, warnings=warnings)
    first = files[0]
    project_directory = explicit_dir or (working_dir if first == STDIN else first.parent)
    final_files = env_files or proj.default_env_files(project_directory)
    if early is not None and early[0] == final_files:
        environment = early[1]
    else:
        environment = proj.interpolation_environment(environ=environ, env_files=final_files)

    run = _Run(interpolate=options.interpolate, warnings=warnings)
    data, sources = run.load_model(files, project_directory, environment, ())

    name = proj.resolve_project_name(
        explicit=options.project_name, environ=environment, top_level=data.get("name"),
        top_level_location=sources.positions.get(("name",)), project_directory=project_directory,
    )
    profiles = proj.resolve_profiles(explicit=options.profiles, environ=environment)
    return RawStack(
        data=data, sources=sources, project_name=name, project_directory=project_directory,
        files=files, environment=environment, active_profiles=profiles,
        warnings=tuple(dict.fromkeys(warnings)),  # one file per -f warns on its own; say it once
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedStack:
    """What ``load_project`` returns: the model, plus what the CLI reports beside it."""

    stack: Stack
    sources: SourceMap
    warnings: tuple[str, ...]
    all_profiles: tuple[str, ...]  # every profile the file names, active or not
    raw: RawStack


def load_project(options: LoadOptions) -> LoadedStack:
    """Load, validate, apply profiles, normalise, bind and check; from the cache when
    no file the last identical load looked at has changed."""
    return open_project(options).loaded


class OpenedProject:
    """A project loaded, or found in the cache (``cache.py``). On a hit the model is
    unpickled on first use of ``loaded``: a command that needs only the name and the
    warnings (``ps``) never imports it. Errors in the files surface at
    ``open_project`` either way: only a successful load is ever cached."""

    __slots__ = ("_loaded", "entry", "name", "options", "warnings")

    def __init__(self, *, options: LoadOptions, loaded: LoadedStack | None = None,
                 entry: cache.Entry | None = None) -> None:
        self.options = options
        self._loaded = loaded
        self.entry = entry  # the cache entry on a hit
        if loaded is not None:
            self.name, self.warnings = loaded.stack.name, loaded.warnings
        else:
            assert entry is not None
            self.name, self.warnings = entry.name, entry.warnings

    @property
    def loaded(self) -> LoadedStack:
        if self._loaded is None:
            assert self.entry is not None
            # an entry found unreadable only now: load afresh (same files, same result)
            self._loaded = self.entry.loaded() or _load_and_store(self.options)
        return self._loaded


def open_project(options: LoadOptions) -> OpenedProject:
    """``load_project``, with the model left in the cache until asked for."""
    entry = cache.lookup(options)
    if entry is not None:
        return OpenedProject(options=options, entry=entry)
    return OpenedProject(options=options, loaded=_load_and_store(options))


def _load_and_store(options: LoadOptions) -> LoadedStack:
    with inputs.Recording() as seen:
        loaded = _load_project(options)
    cache.store(options, seen, loaded)
    return loaded


def _load_project(options: LoadOptions) -> LoadedStack:
    """The stages, front-end and back-end, with no cache."""
    from orchestrator.loader import bind, checks, normalize, validate
    from orchestrator.loader.profiles import all_profiles, apply_profiles

    raw = load_raw(options)
    collected = list(raw.warnings)  # later stages append theirs
    validate.validate(raw.data, raw.sources)
    data = apply_profiles(raw.data, raw.sources, raw.active_profiles, requested=set(options.services))
    data = normalize.normalize(
        data, raw.sources, project_name=raw.project_name,
        project_directory=raw.project_directory, environment=raw.environment, warnings=collected,
    )
    stack = bind.bind(data, raw.sources, project_name=raw.project_name,
                      project_directory=raw.project_directory, files=raw.files)
    checks.check(stack, raw.sources, warnings=collected)
    return LoadedStack(stack=stack, sources=raw.sources, warnings=tuple(collected),
                       all_profiles=tuple(all_profiles(raw.data)), raw=raw)


def _absolute(path: Path, working_dir: Path) -> Path:
    return path if path.is_absolute() else working_dir / path


class _Run:
    """One load: the per-file pipeline and the state it shares (warnings, extends cache)."""

    __slots__ = ("interpolate", "warnings")

    def __init__(self, *, interpolate: bool, warnings: list[str]) -> None:
        self.interpolate = interpolate
        self.warnings = warnings

    def load_model(self, files: tuple[Path, ...], project_directory: Path,
                   environment: dict[str, str], chain: tuple[Path, ...],
                   ) -> tuple[dict[str, Any], SourceMap]:
        """``files`` as one project: each file through its stages, then merged in order."""
        from orchestrator.loader.merge import merge_documents
        from orchestrator.loader.source import SourceMap

        data: dict[str, Any] = {}
        sources = SourceMap()
        for path in files:
            fdata, fsources = self.load_file(path, project_directory, environment, (*chain, path))
            data, sources = merge_documents(data, sources, fdata, fsources)
        return data, sources

    def load_file(self, path: Path, project_directory: Path, environment: dict[str, str],
                  chain: tuple[Path, ...]) -> tuple[dict[str, Any], SourceMap]:
        from orchestrator.loader.extends import apply_extends
        from orchestrator.loader.include import apply_includes

        data, sources = self.read(path, environment)
        if "include" in data:
            data = apply_includes(data, sources, file=path, environ=environment, chain=chain,
                                  load_model=self.load_model)

        def read_base(other: Path) -> tuple[dict[str, Any], SourceMap]:
            return self.read(other, environment)

        # stdin has no directory of its own: its extends paths are relative to the project's
        file = project_directory / "-" if path == STDIN else path
        return apply_extends(data, sources, file=file, project_directory=project_directory,
                             read_file=read_base), sources

    def read(self, path: Path, environment: Mapping[str, str]) -> tuple[dict[str, Any], SourceMap]:
        """Read and interpolate one file."""
        from orchestrator.loader.interpolate import interpolate as interpolate_data
        from orchestrator.loader.yamlread import YamlDocument, read_yaml, read_yaml_file

        doc: YamlDocument
        if path == STDIN:
            inputs.not_replayable()
            doc = read_yaml(sys.stdin.read(), file="stdin")
        else:
            doc = read_yaml_file(path)
        data = doc.data
        if "version" in data:
            self.warnings.append(
                f"{doc.file}: the attribute `version` is obsolete, it will be ignored, "
                f"please remove it to avoid potential confusion")
            data = {k: v for k, v in data.items() if k != "version"}
        if self.interpolate:
            data = interpolate_data(data, sources=doc.sources, environ=environment,
                                    warnings=self.warnings)
        return data, doc.sources
