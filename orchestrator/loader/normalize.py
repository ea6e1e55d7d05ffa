"""Stage: short syntax to long, units to numbers, relative paths to absolute.

Signature (called by ``load.load_project`` after validate and profiles)::

    normalize(data: dict[str, Any], sources: SourceMap, *, project_name: str,
              project_directory: Path, environment: Mapping[str, str],
              warnings: list[str] | None = None) -> dict[str, Any]

Input: schema-valid merged data. Output: a NEW dict of the same shape where
every value has exactly one form, so ``bind`` never guesses: ports and
volumes are long-form mappings, depends_on / networks are mappings, lists of
``KEY=VALUE`` are mappings, durations are float seconds, sizes are int bytes,
booleans and integers are real ones, build contexts and bind sources are
absolute, env_file contents are merged into ``environment``, and networks /
volumes / secrets / configs carry their engine-side ``name``.

Reads env_file files (the only I/O here), through ``envfile.read_env_file``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.loader import inputs
from orchestrator.loader.coerce import (
    Context,
    P,
    as_list,
    kv_map,
    size,
    to_bool,
    to_float,
    to_int,
    to_str,
)
from orchestrator.loader.service_fields import RULES, build_section
from orchestrator.loader.source import SourceMap

log = logging.getLogger(__name__)

DEFAULT_NETWORK = "default"


def normalize(
    data: dict[str, Any],
    sources: SourceMap,
    *,
    project_name: str,
    project_directory: Path,
    environment: Mapping[str, str],
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    ctx = Context(
        sources=sources,
        project_name=project_name,
        project_directory=project_directory,
        environment=environment,
        warnings=warnings if warnings is not None else [],
    )
    out: dict[str, Any] = {"name": project_name}
    services: dict[str, Any] = {}
    for name, svc in sorted((data.get("services") or {}).items()):
        services[name] = _service(ctx, name, svc or {})
    out["services"] = services
    used_default = any(DEFAULT_NETWORK in s.get("networks", {}) for s in services.values())
    networks = dict(data.get("networks") or {})
    if used_default and DEFAULT_NETWORK not in networks:
        networks[DEFAULT_NETWORK] = None
    out["networks"] = {
        k: _resource(ctx, ("networks", k), k, v, _network) for k, v in sorted(networks.items())
    }
    out["volumes"] = {
        k: _resource(ctx, ("volumes", k), k, v, _volume)
        for k, v in sorted((data.get("volumes") or {}).items())
    }
    for kind in ("secrets", "configs"):
        out[kind] = {
            k: _resource(ctx, (kind, k), k, v, _file_object)
            for k, v in sorted((data.get(kind) or {}).items())
        }
    out.update({k: v for k, v in data.items() if k.startswith("x-")})
    return out


# --- services --------------------------------------------------------------

_BOOL_KEYS = ("tty", "stdin_open", "init", "read_only", "privileged", "attach", "oom_kill_disable")
_INT_KEYS = (
    "cpu_count",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "mem_swappiness",
    "oom_score_adj",
    "pids_limit",
    "scale",
)
_FLOAT_KEYS = ("cpus", "cpu_percent")
_SIZE_KEYS = ("shm_size", "mem_limit", "mem_reservation", "memswap_limit")
_STR_LIST_KEYS = (
    "dns",
    "dns_search",
    "tmpfs",
    "dns_opt",
    "cap_add",
    "cap_drop",
    "security_opt",
    "device_cgroup_rules",
    "links",
    "external_links",
    "volumes_from",
    "profiles",
)


def _service(ctx: Context, name: str, svc: dict[str, Any]) -> dict[str, Any]:
    base: P = ("services", name)
    out: dict[str, Any] = {}
    for key, value in svc.items():
        path = (*base, key)
        if key in ("extends", "env_file", "label_file"):
            continue  # extends: resolved by the front-end; env_file, label_file: merged below
        rule = _RULES.get(key)
        if rule is not None:
            out[key] = rule(ctx, path, value)
        elif key in _BOOL_KEYS:
            out[key] = to_bool(ctx, path, value)
        elif key in _INT_KEYS:
            out[key] = to_int(ctx, path, value)
        elif key in _FLOAT_KEYS:
            out[key] = to_float(ctx, path, value)
        elif key in _SIZE_KEYS:
            out[key] = -1 if str(value) == "-1" else size(ctx, path, value)
        elif key in _STR_LIST_KEYS:
            out[key] = [to_str(v) for v in as_list(value)]
        else:
            out[key] = value
    env_files = _env_files(ctx, (*base, "env_file"), svc.get("env_file"))
    out["env_files"] = [f["path"] for f in env_files]
    out["environment"] = _environment(ctx, base, svc.get("environment"), env_files)
    if svc.get("label_file") is not None:
        out["labels"] = _label_files(ctx, (*base, "label_file"), svc["label_file"]) | out.get(
            "labels", {}
        )
    _implicit_dependencies(out)
    if not out.get("networks") and out.get("network_mode") is None:
        out["networks"] = {DEFAULT_NETWORK: {}}
    if "build" in out:
        out["build"] = build_section(ctx, (*base, "build"), svc["build"])
    return out


def _implicit_dependencies(svc: dict[str, Any]) -> None:
    """Services named by volumes_from, links and ``network_mode: service:x`` are
    dependencies too (compose adds them the same way); an explicit depends_on wins.
    Links and network_mode also restart with their dependency."""
    deps: dict[str, Any] = svc.setdefault("depends_on", {})
    implied: list[tuple[str, bool]] = []
    # links and network_mode first: a service named there and in volumes_from restarts
    # with it (as compose decides)
    for link in svc.get("links") or ():
        implied.append((link.split(":", 1)[0], True))
    mode = svc.get("network_mode") or ""
    if mode.startswith("service:"):
        implied.append((mode[len("service:") :], True))
    for entry in svc.get("volumes_from") or ():
        if not entry.startswith("container:"):
            implied.append((entry.split(":", 1)[0], False))
    for name, restart in implied:
        deps.setdefault(
            name, {"condition": "service_started", "required": True, "restart": restart}
        )
    if not deps:
        del svc["depends_on"]


def _env_files(ctx: Context, path: P, value: Any) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(as_list(value)):
        if isinstance(item, dict):
            out.append(
                {
                    "path": ctx.abspath(str(item["path"])),
                    "required": to_bool(ctx, (*path, i, "required"), item.get("required", True)),
                    "format": _env_file_format(ctx, (*path, i, "format"), item.get("format")),
                    "at": (*path, i),
                }
            )
        else:
            out.append(
                {"path": ctx.abspath(str(item)), "required": True, "format": None, "at": (*path, i)}
            )
    return out


def _env_file_format(ctx: Context, path: P, value: Any) -> str | None:
    if value is None:
        return None  # the usual dotenv syntax
    if value == "raw":
        return "raw"
    raise ctx.error(path, f'unsupported env_file format "{value}"',
                    hint="leave `format` out for the usual KEY=VALUE syntax, or use `format: raw`")


def _environment(
    ctx: Context, base: P, value: Any, env_files: list[dict[str, Any]]
) -> dict[str, str | None]:
    from orchestrator.loader.envfile import read_env_file

    merged: dict[str, str | None] = {}
    for f in env_files:
        p = Path(f["path"])
        if not inputs.is_file(p):
            if f["required"]:
                raise ctx.error(
                    f["at"],
                    f'env file "{p}" not found',
                    hint="create it, or mark it `required: false`",
                )
            continue
        for k, v in read_env_file(p, environ=ctx.environment, raw=f["format"] == "raw").items():
            merged[k] = v
    own = kv_map(ctx, (*base, "environment"), value, empty=None)
    for k, v in own.items():
        if v is None:
            # `KEY` alone: the value comes from the environment; compose keeps it unset otherwise
            merged[k] = ctx.environment.get(k)
        else:
            merged[k] = v
    return merged


def _label_files(ctx: Context, path: P, value: Any) -> dict[str, str]:
    """Labels from KEY=VALUE files (``label_file``); labels written in the service win."""
    from orchestrator.loader.envfile import read_env_file

    labels: dict[str, str] = {}
    for i, item in enumerate(as_list(value)):
        p = Path(ctx.abspath(str(item)))
        if not inputs.is_file(p):
            raise ctx.error((*path, i), f'label file "{p}" not found')
        labels.update(read_env_file(p, environ={}))
    return labels


def _rekey_list(ctx: Context, path: P, names: list[Any]) -> None:
    """A list turned into a mapping keeps its positions: ``x[0]`` becomes ``x.name``."""
    # names are scalars (no positions below them): a direct re-key, not SourceMap.move's scan
    positions = ctx.sources.positions
    for i, name in enumerate(names):
        loc = positions.get((*path, i))
        if loc is not None:
            positions[(*path, str(name))] = loc


def _depends_on(ctx: Context, path: P, value: Any) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        _rekey_list(ctx, path, value)
        return {
            str(s): {"condition": "service_started", "required": True, "restart": False}
            for s in value
        }
    out = {}
    for name, dep in (value or {}).items():
        dep = dep or {}
        out[str(name)] = {
            "condition": dep.get("condition", "service_started"),
            "required": to_bool(ctx, (*path, name, "required"), dep.get("required", True)),
            "restart": to_bool(ctx, (*path, name, "restart"), dep.get("restart", False)),
        }
    return out


def _networks(ctx: Context, path: P, value: Any) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        _rekey_list(ctx, path, value)
        return {str(n): {} for n in value}
    out: dict[str, dict[str, Any]] = {}
    for name, net in (value or {}).items():
        n = dict(net or {})
        for key in ("priority", "gw_priority"):
            if key in n:
                n[key] = to_int(ctx, (*path, name, key), n[key])
        if "driver_opts" in n:
            n["driver_opts"] = {str(k): to_str(v) for k, v in n["driver_opts"].items()}
        out[str(name)] = n
    return out


# --- top-level resources ----------------------------------------------------


def _external(ctx: Context, path: P, value: Any) -> tuple[bool, str | None]:
    """``external: true`` or the obsolete ``external: {name: x}``."""
    if isinstance(value, dict):
        ctx.warnings.append(
            f"{'.'.join(map(str, path))}: `external.name` is deprecated, use `name`"
        )
        return True, value.get("name")
    return to_bool(ctx, path, value), None


def _resource(
    ctx: Context,
    path: P,
    key: str,
    value: Any,
    shape: Callable[[Context, P, dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    r = dict(value or {})
    external, old_name = _external(ctx, (*path, "external"), r.get("external", False))
    if old_name and not r.get("name"):
        r["name"] = old_name
    r["external"] = external
    if not r.get("name"):
        r["name"] = key if external else f"{ctx.project_name}_{key}"
    if "labels" in r:
        r["labels"] = kv_map(ctx, (*path, "labels"), r["labels"])
    if r.get("driver_opts") is not None:
        r["driver_opts"] = {str(k): to_str(v) for k, v in r["driver_opts"].items()}
    return shape(ctx, path, r)


def _network(ctx: Context, path: P, r: dict[str, Any]) -> dict[str, Any]:
    for key in ("internal", "attachable", "enable_ipv4", "enable_ipv6"):
        if key in r:
            r[key] = to_bool(ctx, (*path, key), r[key])
    return r


def _volume(ctx: Context, path: P, r: dict[str, Any]) -> dict[str, Any]:
    return r


def _file_object(ctx: Context, path: P, r: dict[str, Any]) -> dict[str, Any]:
    if r.get("file"):
        r["file"] = ctx.abspath(str(r["file"]))
    sources = [k for k in ("file", "environment", "content") if r.get(k) is not None]
    if not r["external"] and len(sources) != 1:
        kind = "secret" if path[0] == "secrets" else "config"
        if not sources:
            raise ctx.error(
                path,
                f'{kind} "{path[1]}" has no source: set one of file, environment or content, or external: true',
            )
        raise ctx.error(
            path, f'{kind} "{path[1]}" has more than one source ({", ".join(sources)}): keep one'
        )
    return r


_RULES: dict[str, Callable[[Context, P, Any], Any]] = {
    **RULES,
    "depends_on": _depends_on,
    "networks": _networks,
}
