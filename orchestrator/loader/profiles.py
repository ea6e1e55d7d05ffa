"""Profiles: keep only the services that are enabled.

A service without ``profiles:`` is always enabled; one with profiles is enabled
when one of them is active (``*`` activates all) or when it is named on the
command line, which also activates its profiles (as compose does). A kept
service may not depend on a service that was left out, unless that dependency
says ``required: false``: then the dependency is dropped.

Pure: no I/O; the input is not modified.
"""

from __future__ import annotations

import logging
from collections.abc import Set
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.loader.source import SourceMap

log = logging.getLogger(__name__)


def service_profiles(service: Any) -> list[str]:
    if not isinstance(service, dict):
        return []
    value = service.get("profiles")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(p) for p in value]
    return []


def all_profiles(data: dict[str, Any]) -> list[str]:
    """Every profile named by a service, sorted."""
    services = data.get("services")
    if not isinstance(services, dict):
        return []
    return sorted({p for s in services.values() for p in service_profiles(s)})


def apply_profiles(
    data: dict[str, Any],
    sources: SourceMap,
    active: Set[str],
    *,
    requested: Set[str] = frozenset(),
) -> dict[str, Any]:
    """``data`` with only the enabled services (see the module doc)."""
    services = data.get("services")
    if not isinstance(services, dict):
        return data
    active = set(active)
    for name in requested:
        active.update(service_profiles(services.get(name)))
    everything = "*" in active

    def enabled(name: str, service: Any) -> bool:
        profiles = service_profiles(service)
        return not profiles or everything or name in requested or any(p in active for p in profiles)

    kept = {name: s for name, s in services.items() if enabled(name, s)}
    result = {}
    for name, service in kept.items():
        result[name] = _prune_dependencies(name, service, kept=kept, services=services, sources=sources)
    return {**data, "services": result}


def _prune_dependencies(
    name: str, service: Any, *, kept: dict[str, Any], services: dict[str, Any], sources: SourceMap,
) -> Any:
    if not isinstance(service, dict):
        return service
    depends = service.get("depends_on")
    if isinstance(depends, list):
        entries = [(str(d), None, ("services", name, "depends_on", i)) for i, d in enumerate(depends)]
    elif isinstance(depends, dict):
        entries = [(str(d), v, ("services", name, "depends_on", d)) for d, v in depends.items()]
    else:
        return service
    dropped: set[str] = set()
    for dep, spec, path in entries:
        if dep in kept or dep not in services:  # undefined services are the checks' to report
            continue
        if isinstance(spec, dict) and spec.get("required") is False:
            log.debug("service %s: dropping optional dependency %s (not enabled)", name, dep)
            dropped.add(dep)
            continue
        profiles = ", ".join(f'"{p}"' for p in service_profiles(services[dep]))
        raise ConfigError(
            f'service "{name}" depends on service "{dep}", which is not enabled',
            location=sources.locate(path), path=path,
            detail=f'"{dep}" is only in profile(s) {profiles}',
            hint="enable one of its profiles (--profile), or mark the dependency `required: false`",
        )
    if not dropped:
        return service
    if isinstance(depends, list):
        pruned: Any = [d for d in depends if str(d) not in dropped]
    else:
        pruned = {d: v for d, v in depends.items() if d not in dropped}
    return {**service, "depends_on": pruned}
