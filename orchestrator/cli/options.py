"""The global options, parsed once by the root callback and shared via ``ctx.obj``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.loader.load import LoadOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalOptions:
    files: tuple[Path, ...] = ()
    project_name: str | None = None
    project_directory: Path | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()
    host: str | None = None
    tlscacert: Path | None = None
    tlscert: Path | None = None
    tlskey: Path | None = None
    debug: bool = False
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def load_options(self, *, interpolate: bool = True) -> LoadOptions:
        """What the loader needs; environment fallbacks (STACK_FILE, COMPOSE_FILE, ...) are
        resolved by the loader itself, since .env files may set them too."""
        from orchestrator.loader.load import LoadOptions

        return LoadOptions(
            files=self.files,
            project_name=self.project_name,
            project_directory=self.project_directory,
            env_files=self.env_files,
            profiles=self.profiles,
            environ=self.environ,
            working_dir=Path.cwd(),
            interpolate=interpolate,
        )
