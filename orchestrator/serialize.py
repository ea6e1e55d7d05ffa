"""The model back to plain, compose-shaped data, for ``stack config``.

Pure: no I/O. Shapes follow what ``docker compose config --format json``
prints, so the two can be compared (tests/unit/golden): long-form ports with
``published`` as a string, durations as Go durations (``1m30s``), sizes as
strings of bytes, ``command``/``entrypoint`` always present (null when unset),
networks as ``{key: null}`` when the attachment has no options. Unset fields
are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator import model as m
from orchestrator.units import format_duration


def stack_to_dict(stack: m.Stack) -> dict[str, Any]:
    out: dict[str, Any] = {"name": stack.name}
    if stack.networks:
        out["networks"] = {k: network_to_dict(n) for k, n in stack.networks.items()}
    out["services"] = {k: service_to_dict(s) for k, s in stack.services.items()}
    if stack.volumes:
        out["volumes"] = {k: volume_to_dict(v) for k, v in stack.volumes.items()}
    if stack.secrets:
        out["secrets"] = {k: file_object_to_dict(f) for k, f in stack.secrets.items()}
    if stack.configs:
        out["configs"] = {k: file_object_to_dict(f) for k, f in stack.configs.items()}
    out.update(_ext(stack.extensions))
    return out


def escape_dollars(value: Any) -> Any:
    """Every "$" in a string value doubled, so that the output, read again as a
    stack file, interpolates to the same values (as `docker compose config` does)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [escape_dollars(v) for v in value]
    if isinstance(value, dict):
        return {k: escape_dollars(v) for k, v in value.items()}
    return value


def _ext(extensions: Mapping[str, m.JsonValue]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in extensions.items()}


def _plain(v: m.JsonValue) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless the value is unset/empty (None, "", (), {}, False)."""
    if value is None or value is False:
        return
    if isinstance(value, str | list | tuple | dict) and not value:
        return
    d[key] = value


def _size(v: int | None) -> str | None:
    return None if v is None else str(v)


def _dur(v: float | None) -> str | None:
    return None if v is None else format_duration(v)


def _octal(mode: int | None) -> str | None:
    return None if mode is None else format(mode, "04o")


def service_to_dict(s: m.Service) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "profiles", list(s.profiles))
    _put(d, "annotations", dict(s.annotations))
    if not s.attach:
        d["attach"] = False
    _put(d, "blkio_config", _blkio(s.blkio_config))
    if s.build is not None:
        d["build"] = build_to_dict(s.build)
    _put(d, "cap_add", list(s.cap_add))
    _put(d, "cap_drop", list(s.cap_drop))
    _put(d, "cgroup", s.cgroup)
    _put(d, "cgroup_parent", s.cgroup_parent)
    d["command"] = list(s.command) if s.command is not None else None
    _put(d, "configs", [_file_ref(r) for r in s.configs])
    _put(d, "container_name", s.container_name)
    for key in (
        "cpu_count",
        "cpu_percent",
        "cpu_shares",
        "cpu_period",
        "cpu_quota",
        "cpu_rt_period",
        "cpu_rt_runtime",
        "cpus",
        "cpuset",
    ):
        _put(d, key, getattr(s, key))
    if s.credential_spec is not None:
        _put(
            d,
            "credential_spec",
            {
                k: v
                for k in ("config", "file", "registry")
                if (v := getattr(s.credential_spec, k)) is not None
            },
        )
    _put(d, "depends_on", {k: _depends(v) for k, v in s.depends_on.items()})
    if s.deploy is not None:
        d["deploy"] = deploy_to_dict(s.deploy)
    if s.develop is not None:
        d["develop"] = {"watch": [_watch(w) for w in s.develop.watch]}
    _put(d, "device_cgroup_rules", list(s.device_cgroup_rules))
    _put(
        d,
        "devices",
        [{"source": x.source, "target": x.target, "permissions": x.permissions} for x in s.devices],
    )
    _put(d, "gpus", _device_requests(s.gpus))
    _put(d, "dns", list(s.dns))
    _put(d, "dns_opt", list(s.dns_opt))
    _put(d, "dns_search", list(s.dns_search))
    _put(d, "domainname", s.domainname)
    d["entrypoint"] = list(s.entrypoint) if s.entrypoint is not None else None
    _put(d, "environment", dict(s.environment))
    _put(d, "expose", list(s.expose))
    _put(d, "external_links", list(s.external_links))
    _put(d, "extra_hosts", [f"{h}={ip}" for h, ip in s.extra_hosts])
    _put(d, "group_add", list(s.group_add))
    if s.healthcheck is not None:
        d["healthcheck"] = healthcheck_to_dict(s.healthcheck)
    _put(d, "hostname", s.hostname)
    _put(d, "image", s.image)
    if s.init is not None:
        d["init"] = s.init
    for key in ("ipc", "isolation"):
        _put(d, key, getattr(s, key))
    _put(d, "labels", dict(s.labels))
    _put(d, "links", list(s.links))
    if s.logging is not None:
        lg: dict[str, Any] = {}
        _put(lg, "driver", s.logging.driver)
        _put(lg, "options", dict(s.logging.options))
        d["logging"] = lg
    _put(d, "mac_address", s.mac_address)
    _put(d, "mem_limit", _size(s.mem_limit))
    _put(d, "mem_reservation", _size(s.mem_reservation))
    _put(d, "mem_swappiness", s.mem_swappiness)
    _put(d, "memswap_limit", _size(s.memswap_limit))
    _put(d, "network_mode", s.network_mode)
    _put(d, "networks", {k: _service_network(v) for k, v in s.networks.items()})
    _put(d, "oom_kill_disable", s.oom_kill_disable)
    _put(d, "oom_score_adj", s.oom_score_adj)
    _put(d, "pid", s.pid)
    _put(d, "pids_limit", s.pids_limit)
    _put(d, "platform", s.platform)
    _put(d, "ports", [port_to_dict(p) for p in s.ports])
    _put(d, "post_start", [_hook(h) for h in s.post_start])
    _put(d, "pre_stop", [_hook(h) for h in s.pre_stop])
    _put(d, "privileged", s.privileged)
    _put(d, "pull_policy", s.pull_policy.value if s.pull_policy else None)
    _put(d, "read_only", s.read_only)
    _put(d, "restart", s.restart)
    _put(d, "runtime", s.runtime)
    _put(d, "scale", s.scale)
    _put(d, "secrets", [_file_ref(r) for r in s.secrets])
    _put(d, "security_opt", list(s.security_opt))
    _put(d, "shm_size", _size(s.shm_size))
    _put(d, "stdin_open", s.stdin_open)
    _put(d, "stop_grace_period", _dur(s.stop_grace_period))
    _put(d, "stop_signal", s.stop_signal)
    _put(d, "storage_opt", dict(s.storage_opt))
    _put(d, "sysctls", dict(s.sysctls))
    _put(d, "tmpfs", list(s.tmpfs))
    _put(d, "tty", s.tty)
    _put(d, "ulimits", {k: _ulimit(u) for k, u in s.ulimits.items()})
    _put(d, "user", s.user)
    _put(d, "userns_mode", s.userns_mode)
    _put(d, "uts", s.uts)
    _put(d, "volumes", [mount_to_dict(v) for v in s.volumes])
    _put(d, "volumes_from", list(s.volumes_from))
    _put(d, "working_dir", s.working_dir)
    d.update(_ext(s.extensions))
    return d


def _ulimit(u: m.Ulimit) -> Any:
    return u.soft if u.single and u.soft == u.hard else {"soft": u.soft, "hard": u.hard}


def _depends(dep: m.DependsOn) -> dict[str, Any]:
    d: dict[str, Any] = {"condition": dep.condition.value}
    if dep.restart:
        d["restart"] = True
    d["required"] = dep.required
    return d


def _service_network(n: m.ServiceNetwork) -> dict[str, Any] | None:
    d: dict[str, Any] = {}
    _put(d, "aliases", list(n.aliases))
    _put(d, "ipv4_address", n.ipv4_address)
    _put(d, "ipv6_address", n.ipv6_address)
    _put(d, "link_local_ips", list(n.link_local_ips))
    _put(d, "mac_address", n.mac_address)
    _put(d, "interface_name", n.interface_name)
    _put(d, "driver_opts", dict(n.driver_opts))
    if n.priority:
        d["priority"] = n.priority
    if n.gw_priority:
        d["gw_priority"] = n.gw_priority
    return d or None


def port_to_dict(p: m.Port) -> dict[str, Any]:
    d: dict[str, Any] = {"mode": p.mode.value}
    _put(d, "host_ip", p.host_ip)
    d["target"] = p.target
    _put(d, "published", p.published)
    d["protocol"] = p.protocol.value
    _put(d, "name", p.name)
    _put(d, "app_protocol", p.app_protocol)
    return d


def mount_to_dict(v: m.VolumeMount) -> dict[str, Any]:
    d: dict[str, Any] = {"type": v.type.value}
    _put(d, "source", v.source)
    d["target"] = v.target
    _put(d, "read_only", v.read_only)
    _put(d, "consistency", v.consistency)
    if v.bind is not None:
        b: dict[str, Any] = {}
        _put(b, "propagation", v.bind.propagation)
        _put(b, "selinux", v.bind.selinux)
        _put(b, "create_host_path", v.bind.create_host_path)
        _put(d, "bind", b)
    if v.volume is not None:
        vo: dict[str, Any] = {}
        _put(vo, "nocopy", v.volume.nocopy)
        _put(vo, "subpath", v.volume.subpath)
        _put(vo, "labels", dict(v.volume.labels))
        d["volume"] = vo
    if v.tmpfs is not None:
        t: dict[str, Any] = {}
        _put(t, "size", _size(v.tmpfs.size))
        _put(t, "mode", v.tmpfs.mode)
        d["tmpfs"] = t
    if v.image_subpath is not None:
        d["image"] = {"subpath": v.image_subpath}
    return d


def healthcheck_to_dict(h: m.Healthcheck) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "test", list(h.test))
    _put(d, "interval", _dur(h.interval))
    _put(d, "timeout", _dur(h.timeout))
    if h.retries is not None:
        d["retries"] = h.retries
    _put(d, "start_period", _dur(h.start_period))
    _put(d, "start_interval", _dur(h.start_interval))
    _put(d, "disable", h.disable)
    return d


def _resource_spec(r: m.ResourceSpec) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "cpus", r.cpus)
    _put(d, "memory", _size(r.memory))
    _put(d, "pids", r.pids)
    _put(d, "devices", _device_requests(r.devices))
    _put(
        d,
        "generic_resources",
        [
            {"discrete_resource_spec": {"kind": g.kind, "value": g.value}}
            for g in r.generic_resources
        ],
    )
    return d


def _device_requests(requests: tuple[m.DeviceRequest, ...]) -> list[dict[str, Any]]:
    return [
        {
            k: v
            for k, v in (
                ("capabilities", list(x.capabilities)),
                ("driver", x.driver),
                ("count", x.count),
                ("device_ids", list(x.device_ids)),
                ("options", dict(x.options)),
            )
            if v not in (None, [], {})
        }
        for x in requests
    ]


def _update(u: m.UpdateConfig) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "parallelism", u.parallelism)
    _put(d, "delay", _dur(u.delay))
    _put(d, "failure_action", u.failure_action)
    _put(d, "monitor", _dur(u.monitor))
    _put(d, "max_failure_ratio", u.max_failure_ratio)
    _put(d, "order", u.order)
    return d


def deploy_to_dict(dep: m.Deploy) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "mode", dep.mode)
    if dep.replicas is not None:
        d["replicas"] = dep.replicas
    _put(d, "labels", dict(dep.labels))
    if dep.update_config is not None:
        d["update_config"] = _update(dep.update_config)
    if dep.rollback_config is not None:
        d["rollback_config"] = _update(dep.rollback_config)
    if dep.resources is not None:
        res: dict[str, Any] = {}
        if dep.resources.limits is not None:
            res["limits"] = _resource_spec(dep.resources.limits)
        if dep.resources.reservations is not None:
            res["reservations"] = _resource_spec(dep.resources.reservations)
        d["resources"] = res
    if dep.restart_policy is not None:
        rp: dict[str, Any] = {}
        _put(
            rp,
            "condition",
            dep.restart_policy.condition.value if dep.restart_policy.condition else None,
        )
        _put(rp, "delay", _dur(dep.restart_policy.delay))
        if dep.restart_policy.max_attempts is not None:
            rp["max_attempts"] = dep.restart_policy.max_attempts
        _put(rp, "window", _dur(dep.restart_policy.window))
        d["restart_policy"] = rp
    if dep.placement is not None:
        pl: dict[str, Any] = {}
        _put(pl, "constraints", list(dep.placement.constraints))
        _put(pl, "preferences", [{"spread": p} for p in dep.placement.preferences])
        _put(pl, "max_replicas_per_node", dep.placement.max_replicas_per_node)
        d["placement"] = pl
    _put(d, "endpoint_mode", dep.endpoint_mode)
    return d


def build_to_dict(b: m.Build) -> dict[str, Any]:
    d: dict[str, Any] = {"context": b.context}
    _put(d, "dockerfile", b.dockerfile)
    _put(d, "dockerfile_inline", b.dockerfile_inline)
    _put(d, "args", dict(b.args))
    _put(d, "ssh", list(b.ssh))
    _put(d, "cache_from", list(b.cache_from))
    _put(d, "cache_to", list(b.cache_to))
    _put(d, "additional_contexts", dict(b.additional_contexts))
    _put(d, "extra_hosts", [f"{h}={ip}" for h, ip in b.extra_hosts])
    _put(d, "isolation", b.isolation)
    _put(d, "labels", dict(b.labels))
    _put(d, "network", b.network)
    _put(d, "no_cache", b.no_cache)
    _put(d, "pull", b.pull)
    _put(
        d,
        "secrets",
        [{k: v for k, v in (("source", s.source), ("target", s.target)) if v} for s in b.secrets],
    )
    _put(d, "shm_size", _size(b.shm_size))
    _put(d, "tags", list(b.tags))
    _put(d, "target", b.target)
    _put(d, "ulimits", {k: _ulimit(u) for k, u in b.ulimits.items()})
    _put(d, "platforms", list(b.platforms))
    _put(d, "privileged", b.privileged)
    _put(d, "entitlements", list(b.entitlements))
    return d


def _file_ref(r: m.FileReference) -> dict[str, Any]:
    d: dict[str, Any] = {"source": r.source}
    _put(d, "target", r.target)
    _put(d, "uid", r.uid)
    _put(d, "gid", r.gid)
    _put(d, "mode", _octal(r.mode))
    return d


def _hook(h: m.Hook) -> dict[str, Any]:
    d: dict[str, Any] = {"command": list(h.command)}
    _put(d, "user", h.user)
    _put(d, "privileged", h.privileged)
    _put(d, "working_dir", h.working_dir)
    _put(d, "environment", dict(h.environment))
    return d


def _watch(w: m.WatchRule) -> dict[str, Any]:
    d: dict[str, Any] = {"path": w.path, "action": w.action}
    _put(d, "target", w.target)
    _put(d, "ignore", list(w.ignore))
    _put(d, "include", list(w.include))
    return d


def _blkio(b: m.BlkioConfig | None) -> dict[str, Any] | None:
    if b is None:
        return None
    d: dict[str, Any] = {}
    _put(d, "weight", b.weight)
    _put(d, "weight_device", [{"path": x.path, "weight": x.rate} for x in b.weight_device])
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        _put(d, key, [{"path": x.path, "rate": x.rate} for x in getattr(b, key)])
    return d


def network_to_dict(n: m.Network) -> dict[str, Any]:
    d: dict[str, Any] = {"name": n.name}
    _put(d, "driver", n.driver)
    _put(d, "driver_opts", dict(n.driver_opts))
    ipam: dict[str, Any] = {}
    _put(ipam, "driver", n.ipam.driver)
    _put(
        ipam,
        "config",
        [
            {
                k: v
                for k, v in (
                    ("subnet", c.subnet),
                    ("ip_range", c.ip_range),
                    ("gateway", c.gateway),
                    ("aux_addresses", dict(c.aux_addresses)),
                )
                if v
            }
            for c in n.ipam.config
        ],
    )
    _put(ipam, "options", dict(n.ipam.options))
    d["ipam"] = ipam
    _put(d, "external", n.external)
    _put(d, "internal", n.internal)
    _put(d, "attachable", n.attachable)
    if n.enable_ipv4 is not None:
        d["enable_ipv4"] = n.enable_ipv4
    if n.enable_ipv6 is not None:
        d["enable_ipv6"] = n.enable_ipv6
    _put(d, "labels", dict(n.labels))
    d.update(_ext(n.extensions))
    return d


def volume_to_dict(v: m.Volume) -> dict[str, Any]:
    d: dict[str, Any] = {"name": v.name}
    _put(d, "driver", v.driver)
    _put(d, "driver_opts", dict(v.driver_opts))
    _put(d, "external", v.external)
    _put(d, "labels", dict(v.labels))
    d.update(_ext(v.extensions))
    return d


def file_object_to_dict(f: m.FileObject) -> dict[str, Any]:
    d: dict[str, Any] = {"name": f.name}
    _put(d, "file", f.file)
    _put(d, "environment", f.environment)
    _put(d, "content", f.content)
    _put(d, "external", f.external)
    _put(d, "driver", f.driver)
    _put(d, "driver_opts", dict(f.driver_opts))
    _put(d, "template_driver", f.template_driver)
    _put(d, "labels", dict(f.labels))
    d.update(_ext(f.extensions))
    return d
