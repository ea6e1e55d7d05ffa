"""Normalizers of single service fields: one long form per field.

Each takes (context, path, value) and returns plain data in the field's long
form with units applied; ``RULES`` maps field names to them. Used by
``normalize``; pure but for resolving paths against the project directory.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from orchestrator.loader import ports as port_syntax
from orchestrator.loader.coerce import (
    URL,
    Context,
    P,
    as_list,
    command_line,
    duration,
    extra_hosts,
    kv_map,
    octal_mode,
    size,
    to_bool,
    to_float,
    to_int,
    to_str,
    ulimits,
)


def _ports(ctx: Context, path: P, value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value or []):
        try:
            if isinstance(item, dict):
                out.append(port_syntax.long_port(item))
            else:
                out.extend(port_syntax.short_port(item))
        except ValueError as exc:
            raise ctx.error((*path, i), str(exc)) from exc
    return out


def _volume_mounts(ctx: Context, path: P, value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value or []):
        at = (*path, i)
        m = _short_volume(ctx, at, str(item)) if not isinstance(item, dict) else dict(item)
        t = m.get("type")
        if t == "bind":
            if not m.get("source"):
                raise ctx.error(at, "a bind mount needs a source path")
            m["source"] = ctx.abspath(str(m["source"]))
            bind = dict(m.get("bind") or {})
            # The short form makes a missing host path; the long form does not unless asked (as compose).
            default = not isinstance(item, dict)
            bind["create_host_path"] = to_bool(
                ctx, (*at, "bind", "create_host_path"), bind.get("create_host_path", default)
            )
            m["bind"] = bind
        elif t == "volume" and ("volume" in m or not isinstance(item, dict)):
            # (the short form always has volume options, as compose prints it)
            vol = dict(m.get("volume") or {})
            if "nocopy" in vol:
                vol["nocopy"] = to_bool(ctx, (*at, "volume", "nocopy"), vol["nocopy"])
            if "labels" in vol:
                vol["labels"] = kv_map(ctx, (*at, "volume", "labels"), vol["labels"])
            m["volume"] = vol
        elif t == "tmpfs":
            if m.get("source"):
                raise ctx.error(at, "a tmpfs mount takes no source")
            tmp = dict(m.get("tmpfs") or {})
            if "size" in tmp:
                tmp["size"] = size(ctx, (*at, "tmpfs", "size"), tmp["size"])
            if "mode" in tmp:
                tmp["mode"] = to_int(ctx, (*at, "tmpfs", "mode"), tmp["mode"])
            m["tmpfs"] = tmp
        if "read_only" in m:
            m["read_only"] = to_bool(ctx, (*at, "read_only"), m["read_only"])
        if not m.get("target"):
            raise ctx.error(at, "a mount needs a target path inside the container")
        m["target"] = clean_path(str(m["target"]))
        out.append(m)
    return out


def clean_path(path: str) -> str:
    """A container path cleaned as compose (Go's ``path.Clean``) does: ``/h//x/`` -> ``/h/x``."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


_PROPAGATION = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _short_volume(ctx: Context, path: P, text: str) -> dict[str, Any]:
    """``[SOURCE:]TARGET[:MODE]`` (MODE: ro, rw, z, Z, nocopy, propagation, consistency)."""
    parts = text.split(":")
    if len(parts) > 3 or not text or any(p == "" for p in parts):
        raise ctx.error(path, f'"{text}" is not a valid volume: use [SOURCE:]TARGET[:MODE]')
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    is_path = source.startswith((".", "/", "~"))
    m: dict[str, Any] = {
        "type": "bind" if is_path else "volume",
        "source": source,
        "target": target,
    }
    for mode in modes:
        if mode == "ro":
            m["read_only"] = True
        elif mode == "rw":
            m["read_only"] = False
        elif mode in ("z", "Z") and is_path:
            m.setdefault("bind", {})["selinux"] = mode
        elif mode in _PROPAGATION and is_path:
            m.setdefault("bind", {})["propagation"] = mode
        elif mode == "nocopy" and not is_path:
            m.setdefault("volume", {})["nocopy"] = True
        elif mode in ("consistent", "cached", "delegated"):
            m["consistency"] = mode
        else:
            raise ctx.error(path, f'"{text}": unknown volume option "{mode}"')
    return m


def _healthcheck(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    hc = dict(value or {})
    test = hc.get("test")
    if isinstance(test, str):
        hc["test"] = ["CMD-SHELL", test]
    elif isinstance(test, list):
        hc["test"] = [to_str(t) for t in test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in hc:
            hc[key] = duration(ctx, (*path, key), hc[key])
    if "retries" in hc:
        hc["retries"] = to_int(ctx, (*path, "retries"), hc["retries"])
    if "disable" in hc:
        hc["disable"] = to_bool(ctx, (*path, "disable"), hc["disable"])
    return hc


def _resource_spec(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    spec = dict(value or {})
    if "cpus" in spec:
        spec["cpus"] = to_float(ctx, (*path, "cpus"), spec["cpus"])
    if "memory" in spec:
        spec["memory"] = size(ctx, (*path, "memory"), spec["memory"])
    if "pids" in spec:
        spec["pids"] = to_int(ctx, (*path, "pids"), spec["pids"])
    if spec.get("devices"):
        spec["devices"] = _device_requests(ctx, (*path, "devices"), spec["devices"])
    return spec


def _device_requests(ctx: Context, path: P, value: Any) -> list[dict[str, Any]]:
    devices = []
    for i, dev in enumerate(value or ()):
        dev = dict(dev)
        if "count" in dev:  # "all" is every device: -1, as the engine API has it
            count = dev["count"]
            dev["count"] = -1 if count == "all" else to_int(ctx, (*path, i, "count"), count)
        if "options" in dev:
            dev["options"] = kv_map(ctx, (*path, i, "options"), dev["options"])
        devices.append(dev)
    return devices


def _update_config(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    u = dict(value or {})
    for key in ("delay", "monitor"):
        if key in u:
            u[key] = duration(ctx, (*path, key), u[key])
    if "parallelism" in u:
        u["parallelism"] = to_int(ctx, (*path, "parallelism"), u["parallelism"])
    if "max_failure_ratio" in u:
        u["max_failure_ratio"] = to_float(ctx, (*path, "max_failure_ratio"), u["max_failure_ratio"])
    return u


def _deploy(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    d = dict(value or {})
    if "replicas" in d:
        d["replicas"] = to_int(ctx, (*path, "replicas"), d["replicas"])
    if "labels" in d:
        d["labels"] = kv_map(ctx, (*path, "labels"), d["labels"])
    if "resources" in d:
        r = dict(d["resources"] or {})
        for key in ("limits", "reservations"):
            if key in r:
                r[key] = _resource_spec(ctx, (*path, "resources", key), r[key])
        d["resources"] = r
    if "restart_policy" in d:
        rp = dict(d["restart_policy"] or {})
        for key in ("delay", "window"):
            if key in rp:
                rp[key] = duration(ctx, (*path, "restart_policy", key), rp[key])
        if "max_attempts" in rp:
            rp["max_attempts"] = to_int(
                ctx, (*path, "restart_policy", "max_attempts"), rp["max_attempts"]
            )
        d["restart_policy"] = rp
    for key in ("update_config", "rollback_config"):
        if key in d:
            d[key] = _update_config(ctx, (*path, key), d[key])
    return d


def build_section(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"context": value} if isinstance(value, str) else dict(value)
    context = str(b.get("context") or ".")
    b["context"] = context if URL.match(context) else ctx.abspath(context)
    if "dockerfile_inline" not in b:
        b.setdefault("dockerfile", "Dockerfile")
    for key in ("args", "labels", "additional_contexts"):
        if key in b:
            b[key] = kv_map(ctx, (*path, key), b[key], empty=None if key == "args" else "")
    if "args" in b:
        # a bare `ARG` takes its value from the environment, and is left out when unset (compose)
        b["args"] = {k: ctx.environment[k] if v is None else v for k, v in b["args"].items()
                     if v is not None or k in ctx.environment}
    if "ssh" in b:
        ssh = b["ssh"]
        b["ssh"] = (
            [f"{k}={v}" if v is not None else str(k) for k, v in ssh.items()]
            if isinstance(ssh, dict)
            else [to_str(s) for s in ssh]
        )
    for key in ("no_cache", "pull", "privileged"):
        if key in b:
            b[key] = to_bool(ctx, (*path, key), b[key])
    if "shm_size" in b:
        b["shm_size"] = size(ctx, (*path, "shm_size"), b["shm_size"])
    if "extra_hosts" in b:
        b["extra_hosts"] = extra_hosts(ctx, (*path, "extra_hosts"), b["extra_hosts"])
    if "ulimits" in b:
        b["ulimits"] = ulimits(ctx, (*path, "ulimits"), b["ulimits"])
    if "secrets" in b:
        b["secrets"] = _file_refs(ctx, (*path, "secrets"), b["secrets"], default_dir=None)
    return b


def _file_refs(
    ctx: Context, path: P, value: Any, *, default_dir: str | None
) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(value or []):
        ref: dict[str, Any] = {"source": item} if isinstance(item, str) else dict(item)
        if default_dir is not None and not ref.get("target"):
            ref["target"] = f"{default_dir}/{ref['source']}"
        if "mode" in ref:
            ref["mode"] = octal_mode(ctx, (*path, i, "mode"), ref["mode"])
        for key in ("uid", "gid"):
            if key in ref:
                ref[key] = to_str(ref[key])
        out.append(ref)
    return out


def _devices(ctx: Context, path: P, value: Any) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(value or []):
        if isinstance(item, dict):
            out.append(
                {
                    "source": item["source"],
                    "target": item.get("target") or item["source"],
                    "permissions": item.get("permissions", "rwm"),
                }
            )
            continue
        parts = str(item).split(":")
        if len(parts) > 3 or not parts[0]:
            raise ctx.error(
                (*path, i), f'"{item}" is not a valid device: use HOST[:CONTAINER[:PERMISSIONS]]'
            )
        src = parts[0]
        dst = parts[1] if len(parts) > 1 and parts[1] else src
        perm = parts[2] if len(parts) > 2 else "rwm"
        out.append({"source": src, "target": dst, "permissions": perm})
    return out


def _hooks(ctx: Context, path: P, value: Any) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(value or []):
        h = dict(item)
        h["command"] = command_line(ctx, (*path, i, "command"), h.get("command"))
        if "environment" in h:
            h["environment"] = kv_map(ctx, (*path, i, "environment"), h["environment"], empty=None)
        if "privileged" in h:
            h["privileged"] = to_bool(ctx, (*path, i, "privileged"), h["privileged"])
        out.append(h)
    return out


def _logging(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    lg = dict(value or {})
    if lg.get("options") is not None:
        lg["options"] = {str(k): to_str(v) for k, v in lg["options"].items() if v is not None}
    return lg


def _blkio(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    b = dict(value or {})
    if "weight" in b:
        b["weight"] = to_int(ctx, (*path, "weight"), b["weight"])
    for key in ("device_read_bps", "device_write_bps"):
        if key in b:
            b[key] = [
                {"path": d["path"], "rate": size(ctx, (*path, key, i), d["rate"])}
                for i, d in enumerate(b[key])
            ]
    for key in ("device_read_iops", "device_write_iops"):
        if key in b:
            b[key] = [
                {"path": d["path"], "rate": to_int(ctx, (*path, key, i), d["rate"])}
                for i, d in enumerate(b[key])
            ]
    if "weight_device" in b:
        b["weight_device"] = [
            {"path": d["path"], "rate": to_int(ctx, (*path, "weight_device", i), d["weight"])}
            for i, d in enumerate(b["weight_device"])
        ]
    return b


def _develop(ctx: Context, path: P, value: Any) -> dict[str, Any]:
    d = dict(value or {})
    rules = []
    for rule in d.get("watch") or []:
        r = dict(rule)
        r["path"] = ctx.abspath(str(r["path"]))
        for key in ("ignore", "include"):
            if key in r:
                r[key] = [to_str(x) for x in as_list(r[key])]
        rules.append(r)
    d["watch"] = rules
    return d


RULES: dict[str, Callable[[Context, P, Any], Any]] = {
    "command": command_line,
    "entrypoint": command_line,
    "ports": _ports,
    "volumes": _volume_mounts,
    "healthcheck": _healthcheck,
    "deploy": _deploy,
    "labels": lambda c, p, v: kv_map(c, p, v),
    "annotations": lambda c, p, v: kv_map(c, p, v),
    "sysctls": lambda c, p, v: kv_map(c, p, v),
    "storage_opt": lambda c, p, v: kv_map(c, p, v),
    "ulimits": ulimits,
    "extra_hosts": extra_hosts,
    "stop_grace_period": duration,
    "secrets": lambda c, p, v: _file_refs(c, p, v, default_dir="/run/secrets"),
    "configs": lambda c, p, v: _file_refs(c, p, v, default_dir=""),
    "devices": _devices,
    "post_start": _hooks,
    "pre_stop": _hooks,
    "logging": _logging,
    "blkio_config": _blkio,
    "develop": _develop,
    # `gpus: all` is every GPU (count -1), printed as compose prints it: no capabilities
    "gpus": lambda c, p, v: [{"count": -1}] if v == "all" else _device_requests(c, p, v),
    "expose": lambda c, p, v: [to_str(x) for x in v or []],
    "group_add": lambda c, p, v: [to_str(x) for x in v or []],
    "build": lambda c, p, v: v,  # done last, with build_section: see normalize._service
}
