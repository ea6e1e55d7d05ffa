"""Helpers for planner tests: stacks from YAML text, and observed state made from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from orchestrator import model
from orchestrator.convert import desired_services
from orchestrator.loader import bind, checks, normalize, validate
from orchestrator.loader.yamlread import read_yaml
from orchestrator.observe import ObservedContainer
from runtime import api

LoadFn = Callable[[str], model.Stack]


def load_text(text: str, directory: Path, *, name: str = "proj") -> model.Stack:
    doc = read_yaml(text, file="stack.yaml")
    validate.validate(doc.data, doc.sources, use_cache=False)
    data = normalize.normalize(doc.data, doc.sources, project_name=name,
                               project_directory=directory, environment={})
    stack = bind.bind(data, doc.sources, project_name=name, project_directory=directory,
                      files=(directory / "stack.yaml",))
    checks.check(stack, doc.sources)
    return stack


def running(stack: model.Stack, service: str, number: int = 1, *,
            state: api.ContainerState = api.ContainerState.RUNNING,
            image_id: str = "sha256:img", config_hash: str | None = None,
            fields: dict[str, str] | None = None) -> ObservedContainer:
    """The container ``up`` would have made for ``service`` (same hashes), as observed."""
    want = desired_services(stack)[service]
    return ObservedContainer(
        id=f"id-{service}-{number}", name=f"{stack.name}-{service}-{number}", service=service,
        number=number, oneoff=False,
        config_hash=config_hash if config_hash is not None else want.config_hash,
        field_hashes=fields if fields is not None else dict(want.field_hashes),
        image="busybox:latest", image_id=image_id, state=state,
        health=api.HealthStatus.NONE, exit_code=None, created_at=float(number),
        started_at=None)
