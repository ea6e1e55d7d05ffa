"""Stage: normalised plain data to the typed model. ``dict[str, Any]`` ends here.

Signature (called by ``load.load_project`` after normalize)::

    bind(data: dict[str, Any], sources: SourceMap, *, project_name: str,
         project_directory: Path, files: tuple[Path, ...]) -> model.Stack

Input is the output of ``normalize``: every value already has its one long
form and its units, so this is a field-by-field copy into frozen dataclasses.
Enum values that the schema lets through as free strings (pull_policy,
restart_policy.condition) are checked here, with the location.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from orchestrator import model as m
from orchestrator.errors import ConfigError
from orchestrator.loader.source import SourceMap

P = tuple[str | int, ...]
E = TypeVar("E", bound=enum.Enum)


def bind(
    data: dict[str, Any],
    sources: SourceMap,
    *,
    project_name: str,
    project_directory: Path,
    files: tuple[Path, ...],
) -> m.Stack:
    b = _Binder(sources)
    services = {
        name: b.service(name, svc) for name, svc in sorted(data.get("services", {}).items())
    }
    return m.Stack(
        name=project_name,
        project_directory=project_directory,
        files=files,
        services=services,
        networks={k: b.network(k, v) for k, v in sorted(data.get("networks", {}).items())},
        volumes={k: b.volume(k, v) for k, v in sorted(data.get("volumes", {}).items())},
        secrets={k: b.file_object(k, v) for k, v in sorted(data.get("secrets", {}).items())},
        configs={k: b.file_object(k, v) for k, v in sorted(data.get("configs", {}).items())},
        extensions=_extensions(data),
    )


def _json(value: Any) -> m.JsonValue:
    """Freeze a plain YAML value into a JsonValue (lists become tuples)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_json(v) for v in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _extensions(d: Mapping[str, Any]) -> dict[str, m.JsonValue]:
    return {str(k): _json(v) for k, v in d.items() if isinstance(k, str) and k.startswith("x-")}


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value or ())


def _smap(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


class _Binder:
    def __init__(self, sources: SourceMap) -> None:
        self.sources = sources

    def enum(self, cls: type[E], value: Any, path: P) -> E:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(f'"{e.value}"' for e in cls)
            raise ConfigError(
                f'"{value}" is not allowed: use one of {allowed}',
                location=self.sources.locate(path),
                path=path,
            ) from None

    # --- services ---------------------------------------------------------

    def service(self, name: str, s: dict[str, Any]) -> m.Service:
        base: P = ("services", name)
        simple_str: dict[str, Any] = {
            k: _opt_str(s.get(k))
            for k in (
                "image",
                "container_name",
                "hostname",
                "domainname",
                "user",
                "working_dir",
                "cpuset",
                "cgroup",
                "cgroup_parent",
                "ipc",
                "pid",
                "uts",
                "userns_mode",
                "isolation",
                "runtime",
                "platform",
                "network_mode",
                "mac_address",
                "restart",
                "stop_signal",
            )
        }
        simple_num: dict[str, Any] = {
            k: s.get(k)
            for k in (
                "cpu_count",
                "cpu_percent",
                "cpu_shares",
                "cpu_period",
                "cpu_quota",
                "cpu_rt_period",
                "cpu_rt_runtime",
                "cpus",
                "mem_limit",
                "mem_reservation",
                "mem_swappiness",
                "memswap_limit",
                "oom_score_adj",
                "pids_limit",
                "shm_size",
                "stop_grace_period",
                "scale",
                "init",
            )
        }
        flags: dict[str, Any] = {
            k: bool(s.get(k, default))
            for k, default in (
                ("tty", False),
                ("stdin_open", False),
                ("read_only", False),
                ("privileged", False),
                ("attach", True),
                ("oom_kill_disable", False),
            )
        }
        lists: dict[str, Any] = {
            k: _strs(s.get(k))
            for k in (
                "cap_add",
                "cap_drop",
                "security_opt",
                "group_add",
                "volumes_from",
                "tmpfs",
                "device_cgroup_rules",
                "expose",
                "dns",
                "dns_search",
                "dns_opt",
                "links",
                "external_links",
                "profiles",
                "env_files",
            )
        }
        pull = s.get("pull_policy")
        return m.Service(
            name=name,
            **simple_str,
            **simple_num,
            **flags,
            **lists,
            build=self.build(s["build"]) if s.get("build") is not None else None,
            command=_strs(s["command"]) if s.get("command") is not None else None,
            entrypoint=_strs(s["entrypoint"]) if s.get("entrypoint") is not None else None,
            environment={str(k): _opt_str(v) for k, v in s.get("environment", {}).items()},
            labels=_smap(s.get("labels")),
            annotations=_smap(s.get("annotations")),
            volumes=tuple(self.mount(v) for v in s.get("volumes") or ()),
            sysctls=_smap(s.get("sysctls")),
            ulimits=_ulimits(s.get("ulimits")),
            storage_opt=_smap(s.get("storage_opt")),
            devices=tuple(
                m.Device(source=d["source"], target=d["target"], permissions=d["permissions"])
                for d in s.get("devices") or ()
            ),
            blkio_config=_blkio(s["blkio_config"]) if s.get("blkio_config") else None,
            gpus=_device_requests(s.get("gpus")),
            networks={
                str(k): _service_network(v or {}) for k, v in (s.get("networks") or {}).items()
            },
            ports=tuple(
                self.port(p, (*base, "ports", i)) for i, p in enumerate(s.get("ports") or ())
            ),
            extra_hosts=tuple((str(h), str(ip)) for h, ip in s.get("extra_hosts") or ()),
            depends_on={
                str(k): m.DependsOn(
                    condition=self.enum(m.Condition, d["condition"], (*base, "depends_on", k)),
                    required=d["required"],
                    restart=d["restart"],
                )
                for k, d in (s.get("depends_on") or {}).items()
            },
            healthcheck=_healthcheck(s["healthcheck"]) if s.get("healthcheck") else None,
            post_start=tuple(_hook(h) for h in s.get("post_start") or ()),
            pre_stop=tuple(_hook(h) for h in s.get("pre_stop") or ()),
            deploy=self.deploy(s["deploy"], (*base, "deploy")) if s.get("deploy") else None,
            pull_policy=(
                self.enum(m.PullPolicy, pull, (*base, "pull_policy"))
                if pull is not None and not str(pull).startswith("every_")
                else None
            ),
            secrets=tuple(_file_ref(r) for r in s.get("secrets") or ()),
            configs=tuple(_file_ref(r) for r in s.get("configs") or ()),
            logging=(
                m.Logging(
                    driver=_opt_str(s["logging"].get("driver")),
                    options=_smap(s["logging"].get("options")),
                )
                if s.get("logging")
                else None
            ),
            credential_spec=(
                m.CredentialSpec(
                    **{
                        k: _opt_str(v)
                        for k, v in s["credential_spec"].items()
                        if k in ("config", "file", "registry")
                    }
                )
                if s.get("credential_spec")
                else None
            ),
            develop=(
                m.Develop(
                    watch=tuple(
                        m.WatchRule(
                            path=w["path"],
                            action=str(w["action"]),
                            target=_opt_str(w.get("target")),
                            ignore=_strs(w.get("ignore")),
                            include=_strs(w.get("include")),
                        )
                        for w in s["develop"].get("watch") or ()
                    )
                )
                if s.get("develop")
                else None
            ),
            extensions=_extensions(s),
        )

    def build(self, b: dict[str, Any]) -> m.Build:
        return m.Build(
            context=str(b["context"]),
            dockerfile=_opt_str(b.get("dockerfile")),
            dockerfile_inline=_opt_str(b.get("dockerfile_inline")),
            args={str(k): _opt_str(v) for k, v in (b.get("args") or {}).items()},
            ssh=_strs(b.get("ssh")),
            cache_from=_strs(b.get("cache_from")),
            cache_to=_strs(b.get("cache_to")),
            additional_contexts=_smap(b.get("additional_contexts")),
            extra_hosts=tuple((str(h), str(ip)) for h, ip in b.get("extra_hosts") or ()),
            isolation=_opt_str(b.get("isolation")),
            labels=_smap(b.get("labels")),
            network=_opt_str(b.get("network")),
            no_cache=bool(b.get("no_cache", False)),
            pull=bool(b.get("pull", False)),
            secrets=tuple(
                m.BuildSecret(source=str(r["source"]), target=_opt_str(r.get("target")))
                for r in b.get("secrets") or ()
            ),
            shm_size=b.get("shm_size"),
            tags=_strs(b.get("tags")),
            target=_opt_str(b.get("target")),
            ulimits=_ulimits(b.get("ulimits")),
            platforms=_strs(b.get("platforms")),
            privileged=bool(b.get("privileged", False)),
            entitlements=_strs(b.get("entitlements")),
        )

    def mount(self, v: dict[str, Any]) -> m.VolumeMount:
        bind = v.get("bind")
        vol = v.get("volume")
        tmp = v.get("tmpfs")
        return m.VolumeMount(
            type=m.MountType(v["type"]),
            target=str(v["target"]),
            source=_opt_str(v.get("source")) or None,
            read_only=bool(v.get("read_only", False)),
            consistency=_opt_str(v.get("consistency")),
            bind=(
                m.BindOptions(
                    propagation=_opt_str(bind.get("propagation")),
                    create_host_path=bool(bind.get("create_host_path", True)),
                    selinux=_opt_str(bind.get("selinux")),
                )
                if bind is not None
                else None
            ),
            volume=(
                m.VolumeOptions(
                    nocopy=bool(vol.get("nocopy", False)),
                    subpath=_opt_str(vol.get("subpath")),
                    labels=_smap(vol.get("labels")),
                )
                if vol is not None
                else None
            ),
            tmpfs=m.TmpfsOptions(size=tmp.get("size"), mode=tmp.get("mode"))
            if tmp is not None
            else None,
            image_subpath=_opt_str((v.get("image") or {}).get("subpath")),
        )

    def port(self, p: dict[str, Any], path: P) -> m.Port:
        return m.Port(
            target=int(p["target"]),
            published=_opt_str(p.get("published")),
            host_ip=_opt_str(p.get("host_ip")),
            protocol=self.enum(m.Protocol, p.get("protocol", "tcp"), (*path, "protocol")),
            mode=self.enum(m.PortMode, p.get("mode", "ingress"), (*path, "mode")),
            name=_opt_str(p.get("name")),
            app_protocol=_opt_str(p.get("app_protocol")),
        )

    def deploy(self, d: dict[str, Any], path: P) -> m.Deploy:
        res = d.get("resources")
        rp = d.get("restart_policy")
        pl = d.get("placement")
        return m.Deploy(
            mode=_opt_str(d.get("mode")),
            replicas=d.get("replicas"),
            labels=_smap(d.get("labels")),
            resources=(
                m.Resources(
                    limits=_resource_spec(res["limits"]) if res.get("limits") is not None else None,
                    reservations=(
                        _resource_spec(res["reservations"])
                        if res.get("reservations") is not None
                        else None
                    ),
                )
                if res is not None
                else None
            ),
            restart_policy=(
                m.RestartPolicy(
                    condition=(
                        self.enum(
                            m.RestartCondition,
                            rp["condition"],
                            (*path, "restart_policy", "condition"),
                        )
                        if rp.get("condition") is not None
                        else None
                    ),
                    delay=rp.get("delay"),
                    max_attempts=rp.get("max_attempts"),
                    window=rp.get("window"),
                )
                if rp is not None
                else None
            ),
            update_config=_update(d["update_config"])
            if d.get("update_config") is not None
            else None,
            rollback_config=_update(d["rollback_config"])
            if d.get("rollback_config") is not None
            else None,
            placement=(
                m.Placement(
                    constraints=_strs(pl.get("constraints")),
                    preferences=tuple(str(p.get("spread")) for p in pl.get("preferences") or ()),
                    max_replicas_per_node=pl.get("max_replicas_per_node"),
                )
                if pl is not None
                else None
            ),
            endpoint_mode=_opt_str(d.get("endpoint_mode")),
        )

    # --- top level ----------------------------------------------------------

    def network(self, key: str, n: dict[str, Any]) -> m.Network:
        ipam = n.get("ipam") or {}
        return m.Network(
            key=key,
            name=str(n["name"]),
            driver=_opt_str(n.get("driver")),
            driver_opts=_smap(n.get("driver_opts")),
            ipam=m.Ipam(
                driver=_opt_str(ipam.get("driver")),
                config=tuple(
                    m.IpamConfig(
                        subnet=_opt_str(c.get("subnet")),
                        ip_range=_opt_str(c.get("ip_range")),
                        gateway=_opt_str(c.get("gateway")),
                        aux_addresses=_smap(c.get("aux_addresses")),
                    )
                    for c in ipam.get("config") or ()
                ),
                options=_smap(ipam.get("options")),
            ),
            external=bool(n.get("external", False)),
            internal=bool(n.get("internal", False)),
            attachable=bool(n.get("attachable", False)),
            enable_ipv4=n.get("enable_ipv4"),
            enable_ipv6=n.get("enable_ipv6"),
            labels=_smap(n.get("labels")),
            extensions=_extensions(n),
        )

    def volume(self, key: str, v: dict[str, Any]) -> m.Volume:
        return m.Volume(
            key=key,
            name=str(v["name"]),
            driver=_opt_str(v.get("driver")),
            driver_opts=_smap(v.get("driver_opts")),
            external=bool(v.get("external", False)),
            labels=_smap(v.get("labels")),
            extensions=_extensions(v),
        )

    def file_object(self, key: str, f: dict[str, Any]) -> m.FileObject:
        return m.FileObject(
            key=key,
            name=str(f["name"]),
            file=_opt_str(f.get("file")),
            environment=_opt_str(f.get("environment")),
            content=_opt_str(f.get("content")),
            external=bool(f.get("external", False)),
            driver=_opt_str(f.get("driver")),
            driver_opts=_smap(f.get("driver_opts")),
            template_driver=_opt_str(f.get("template_driver")),
            labels=_smap(f.get("labels")),
            extensions=_extensions(f),
        )


def _ulimits(value: Any) -> dict[str, m.Ulimit]:
    return {str(k): m.Ulimit(soft=v["soft"], hard=v["hard"], single=bool(v.get("single")))
            for k, v in (value or {}).items()}


def _service_network(n: dict[str, Any]) -> m.ServiceNetwork:
    return m.ServiceNetwork(
        aliases=_strs(n.get("aliases")),
        ipv4_address=_opt_str(n.get("ipv4_address")),
        ipv6_address=_opt_str(n.get("ipv6_address")),
        link_local_ips=_strs(n.get("link_local_ips")),
        mac_address=_opt_str(n.get("mac_address")),
        priority=int(n.get("priority", 0)),
        gw_priority=int(n.get("gw_priority", 0)),
        interface_name=_opt_str(n.get("interface_name")),
        driver_opts=_smap(n.get("driver_opts")),
    )


def _healthcheck(h: dict[str, Any]) -> m.Healthcheck:
    return m.Healthcheck(
        test=_strs(h.get("test")),
        interval=h.get("interval"),
        timeout=h.get("timeout"),
        retries=h.get("retries"),
        start_period=h.get("start_period"),
        start_interval=h.get("start_interval"),
        disable=bool(h.get("disable", False)),
    )


def _hook(h: dict[str, Any]) -> m.Hook:
    return m.Hook(
        command=_strs(h.get("command")),
        user=_opt_str(h.get("user")),
        privileged=bool(h.get("privileged", False)),
        working_dir=_opt_str(h.get("working_dir")),
        environment={str(k): _opt_str(v) for k, v in (h.get("environment") or {}).items()},
    )


def _file_ref(r: dict[str, Any]) -> m.FileReference:
    return m.FileReference(
        source=str(r["source"]),
        target=_opt_str(r.get("target")) or None,
        uid=_opt_str(r.get("uid")),
        gid=_opt_str(r.get("gid")),
        mode=r.get("mode"),
    )


def _resource_spec(r: dict[str, Any]) -> m.ResourceSpec:
    return m.ResourceSpec(
        cpus=r.get("cpus"),
        memory=r.get("memory"),
        pids=r.get("pids"),
        devices=_device_requests(r.get("devices")),
        generic_resources=tuple(
            m.GenericResource(
                kind=str(g["discrete_resource_spec"]["kind"]),
                value=int(g["discrete_resource_spec"]["value"]),
            )
            for g in r.get("generic_resources") or ()
            if g.get("discrete_resource_spec")
        ),
    )


def _device_requests(value: Any) -> tuple[m.DeviceRequest, ...]:
    return tuple(
        m.DeviceRequest(
            capabilities=_strs(d.get("capabilities")),
            driver=_opt_str(d.get("driver")),
            count=d.get("count"),
            device_ids=_strs(d.get("device_ids")),
            options=_smap(d.get("options")),
        )
        for d in value or ()
    )


def _update(u: dict[str, Any]) -> m.UpdateConfig:
    return m.UpdateConfig(
        parallelism=u.get("parallelism"),
        delay=u.get("delay"),
        failure_action=_opt_str(u.get("failure_action")),
        monitor=u.get("monitor"),
        max_failure_ratio=u.get("max_failure_ratio"),
        order=_opt_str(u.get("order")),
    )


def _blkio(b: dict[str, Any]) -> m.BlkioConfig:
    def devs(key: str) -> tuple[m.BlkioDevice, ...]:
        return tuple(
            m.BlkioDevice(path=str(d["path"]), rate=int(d["rate"])) for d in b.get(key) or ()
        )

    return m.BlkioConfig(
        weight=b.get("weight"),
        weight_device=devs("weight_device"),
        device_read_bps=devs("device_read_bps"),
        device_write_bps=devs("device_write_bps"),
        device_read_iops=devs("device_read_iops"),
        device_write_iops=devs("device_write_iops"),
    )
