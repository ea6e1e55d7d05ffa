"""The model to engine configs: containers, networks and volumes, their names and labels.

Pure: no I/O, except ``desired_services`` (the config hash reads secret and
config sources). Names are
deterministic so a re-run of ``up`` after a crash finds what the last run made:

    container   <project>-<service>-<n>   (or the service's container_name)
    one-off     <project>-<service>-run-<suffix>
    network     Network.name              (the loader made it <project>_<key> unless set)
    volume      Volume.name               (likewise)

Every object gets the project label; containers also get service, number,
config hash (and one short hash per config field, so the planner can say
WHICH fields changed), one-off, depends-on and the image reference asked for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator import __version__
from orchestrator import model as m
from orchestrator.confighash import HASH_VERSION
from orchestrator.errors import StackError
from orchestrator.serialize import service_to_dict
from runtime import api
from runtime.containers import shortsyntax  # pure parsing of Docker's short forms
from runtime.errors import InvalidArgument

# JSON {field: short hash} of the service's config, for "what changed" in plans.
LABEL_FIELD_HASHES = api.LABEL_PREFIX + "config-hash.fields"
# Keys that never make a container stale (mirrors orchestrator.confighash).
_UNHASHED = frozenset({"scale", "depends_on", "profiles", "build"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DesiredService:
    """What the stack wants of one service, with its hashes."""

    name: str
    config_hash: str
    field_hashes: Mapping[str, str]
    replicas: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceIdentity:
    """What the labels of a service's containers say about the stack; same for every replica."""

    project: str
    config_hash: str
    field_hashes: Mapping[str, str]
    working_dir: str = ""
    config_files: str = ""


def container_name(project: str, svc: m.Service, number: int) -> str:
    if svc.container_name:
        return svc.container_name
    return f"{project}-{svc.name}-{number}"


def oneoff_name(project: str, service: str, suffix: str) -> str:
    return f"{project}-{service}-run-{suffix}"


def image_ref(project: str, svc: m.Service) -> str:
    """The image a service runs: ``image:`` or, for a build without one, ``<project>-<service>``."""
    return svc.image or f"{project}-{svc.name}"


def desired_services(stack: m.Stack, *, environ: Mapping[str, str] | None = None,
                     scale: Mapping[str, int] | None = None) -> dict[str, DesiredService]:
    """Hashes and replica counts of every service (``scale`` from ``--scale svc=N`` wins)."""
    from orchestrator.confighash import service_hash

    return {name: DesiredService(
        name=name,
        config_hash=service_hash(stack, name, environ=environ),
        field_hashes=field_hashes(stack, name),
        replicas=(scale or {}).get(name, svc.replicas),
    ) for name, svc in stack.services.items()}


def field_hashes(stack: m.Stack, name: str) -> dict[str, str]:
    """A short hash per top-level config field of a service (pure), for plan reasons.

    Covers the same fields as the config hash, plus the engine names of the
    resources it uses, so a change of either shows as the field that moved."""
    svc = stack.services[name]
    doc = service_to_dict(svc)
    for key in _UNHASHED:
        doc.pop(key, None)
    if "deploy" in doc:
        doc["deploy"] = {k: v for k, v in doc["deploy"].items() if k != "replicas"}
    doc["networks"] = {
        "attach": doc.get("networks"),
        "names": {k: stack.networks[k].name for k in svc.networks if k in stack.networks},
    }
    if svc.volumes:
        doc["volumes"] = {
            "mounts": doc.get("volumes"),
            "names": {v.source: stack.volumes[v.source].name for v in svc.volumes
                      if v.type is m.MountType.VOLUME and v.source is not None
                      and v.source in stack.volumes},
        }
    doc["_version"] = HASH_VERSION
    return {k: _short_hash(v) for k, v in sorted(doc.items())}


def _short_hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def changed_fields(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[str, ...]:
    """Fields whose short hash differs (added and removed fields included), sorted."""
    return tuple(sorted(k for k in set(old) | set(new)
                        if old.get(k) != new.get(k) and k != "_version"))


def encode_field_hashes(hashes: Mapping[str, str]) -> str:
    return json.dumps(dict(hashes), sort_keys=True, separators=(",", ":"))


def decode_field_hashes(text: str | None) -> dict[str, str]:
    """The label back to a dict; a missing or garbled label is an empty dict (fields unknown)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


# --- containers -----------------------------------------------------------------


def container_config(
    stack: m.Stack,
    svc: m.Service,
    *,
    number: int,
    identity: ServiceIdentity,
    image_healthcheck: api.Healthcheck | None = None,
    oneoff: bool = False,
    name: str | None = None,
    command: tuple[str, ...] | None = None,
    entrypoint: tuple[str, ...] | None = None,
    extra_env: Mapping[str, str] | None = None,
    ports: tuple[api.PortBinding, ...] | None = None,
    environ: Mapping[str, str] | None = None,
) -> api.ContainerConfig:
    """The ContainerConfig for replica ``number`` of ``svc`` (or a one-off container of it);
    ``environ``: the project's environment, as ``desired_services`` got it."""
    project = stack.name
    env = {k: v for k, v in svc.environment.items() if v is not None}
    env.update(extra_env or {})
    labels: dict[str, str] = dict(svc.labels)
    labels.update({
        api.LABEL_PROJECT: project,
        api.LABEL_SERVICE: svc.name,
        api.LABEL_NUMBER: str(number),
        api.LABEL_CONFIG_HASH: identity.config_hash,
        LABEL_FIELD_HASHES: encode_field_hashes(identity.field_hashes),
        api.LABEL_ONEOFF: "True" if oneoff else "False",
        api.LABEL_IMAGE: image_ref(project, svc),
        api.LABEL_VERSION: __version__,
        api.LABEL_DEPENDS_ON: depends_on_label(svc),
    })
    if identity.working_dir:
        labels[api.LABEL_PROJECT_DIR] = identity.working_dir
    if identity.config_files:
        labels[api.LABEL_PROJECT_FILES] = identity.config_files
    network_mode, networks = _networking(stack, svc)
    return api.ContainerConfig(
        name=name or container_name(project, svc, number),
        image=image_ref(project, svc),
        command=command if command is not None else svc.command,
        entrypoint=entrypoint if entrypoint is not None else svc.entrypoint,
        env=env,
        labels=labels,
        user=svc.user,
        working_dir=svc.working_dir,
        hostname=svc.hostname,
        domainname=svc.domainname,
        tty=svc.tty,
        stdin_open=svc.stdin_open,
        init=bool(svc.init),
        read_only=svc.read_only,
        privileged=svc.privileged,
        cap_add=svc.cap_add,
        cap_drop=svc.cap_drop,
        security_opt=svc.security_opt,
        mounts=mounts(stack, svc, environ=environ),
        shm_size=svc.shm_size,
        sysctls=dict(svc.sysctls),
        ulimits=tuple(api.Ulimit(name=k, soft=u.soft, hard=u.hard)
                      for k, u in sorted(svc.ulimits.items())),
        resources=resources(svc),
        stop_signal=svc.stop_signal,
        stop_timeout=svc.stop_grace_period,
        network_mode=network_mode,
        networks=networks,
        ports=ports if ports is not None else port_bindings(svc, number=number),
        dns=svc.dns,
        dns_search=svc.dns_search,
        dns_opt=svc.dns_opt,
        extra_hosts=svc.extra_hosts,
        healthcheck=healthcheck(svc.healthcheck, image=image_healthcheck),
        restart=api.RestartPolicy() if oneoff else restart_policy(svc),
    )


def depends_on_label(svc: m.Service) -> str:
    """Compose's format: ``db:service_healthy:true,cache:service_started:false``."""
    return ",".join(f"{k}:{d.condition.value}:{str(d.restart).lower()}"
                    for k, d in sorted(svc.depends_on.items()))


def _networking(stack: m.Stack, svc: m.Service) -> tuple[str, tuple[api.EndpointConfig, ...]]:
    mode = svc.network_mode
    if mode:
        if mode.startswith("service:"):
            target = mode.removeprefix("service:")
            other = stack.services.get(target)
            ref = container_name(stack.name, other, 1) if other else f"{stack.name}-{target}-1"
            return f"container:{ref}", ()
        return mode, ()
    # highest priority first (it becomes eth0 and the default route), then by key
    keys = sorted(svc.networks, key=lambda k: (-svc.networks[k].priority, k))
    endpoints = []
    for i, key in enumerate(keys):
        att = svc.networks[key]
        net = stack.networks.get(key)
        aliases = tuple(dict.fromkeys((svc.name, *att.aliases)))
        endpoints.append(api.EndpointConfig(
            network=net.name if net else key,
            aliases=aliases,
            ipv4_address=att.ipv4_address,
            ipv6_address=att.ipv6_address,
            mac_address=att.mac_address or (svc.mac_address if i == 0 else None),
            priority=att.priority,
        ))
    return "bridge", tuple(endpoints)


def mounts(stack: m.Stack, svc: m.Service, *, environ: Mapping[str, str] | None = None
           ) -> tuple[api.Mount, ...]:
    """The service's mounts; ``environ`` (the project's environment) gives the values of
    ``environment:`` secrets and configs, and must be what the config hash saw."""
    out: list[api.Mount] = []
    for v in svc.volumes:
        if v.type is m.MountType.BIND:
            out.append(api.Mount(
                type="bind", target=v.target, source=v.source or "", read_only=v.read_only,
                create_host_path=v.bind.create_host_path if v.bind else True,
                propagation=v.bind.propagation if v.bind else None))
        elif v.type is m.MountType.VOLUME:
            vol = stack.volumes.get(v.source) if v.source else None
            source = vol.name if vol else (v.source or "")
            out.append(api.Mount(type="volume", target=v.target, source=source,
                                 read_only=v.read_only,
                                 nocopy=v.volume.nocopy if v.volume else False))
        elif v.type is m.MountType.TMPFS:
            out.append(api.Mount(type="tmpfs", target=v.target,
                                 tmpfs_size=v.tmpfs.size if v.tmpfs else None,
                                 tmpfs_mode=v.tmpfs.mode if v.tmpfs else None))
        # npipe / cluster / image mounts have no Linux engine equivalent; checks.py rejects them
    for i, spec in enumerate(svc.tmpfs):
        try:  # the short form is Docker's --tmpfs: one parser for both
            out.append(shortsyntax.parse_tmpfs(spec))
        except InvalidArgument as exc:
            raise StackError(exc.message, path=("services", svc.name, "tmpfs", i)) from exc
    out += _file_object_mounts(svc, "secret", stack.secrets, environ=environ or {})
    out += _file_object_mounts(svc, "config", stack.configs, environ=environ or {})
    return tuple(out)


def _file_object_mounts(svc: m.Service, kind: str, objects: Mapping[str, m.FileObject], *,
                        environ: Mapping[str, str]) -> list[api.Mount]:
    """The service's secrets (``kind`` "secret") or configs ("config") as Compose mounts them.

    At ``target``, a relative one under /run/secrets/ (secrets) or / (configs). A ``file``
    source is bound read-only, and Compose ignores uid/gid/mode for it (it warns), so do
    we. ``environment`` (a variable of ``environ``, the project's environment) and
    ``content`` (already interpolated by the loader) sources are copied in by Compose
    with uid/gid/mode (default root, 0444); here they travel as "file" mounts, bytes and
    all, since the daemon may be remote. External ones need Swarm, as in Compose.
    """
    refs = svc.secrets if kind == "secret" else svc.configs
    base = "/run/secrets/" if kind == "secret" else "/"
    out: list[api.Mount] = []
    for i, ref in enumerate(refs):
        obj = objects.get(ref.source)
        if obj is None or obj.external:
            continue
        target = ref.target or ref.source
        target = target if target.startswith("/") else base + target
        if obj.file:
            out.append(api.Mount(type="bind", source=obj.file, read_only=True, target=target,
                                 # a missing file is an error, never an empty directory made for it
                                 create_host_path=False))
            continue
        path = ("services", svc.name, kind + "s", i)
        if obj.content is not None:
            content = obj.content
        elif obj.environment is not None:
            if obj.environment not in environ:
                raise StackError(
                    f'{kind} "{ref.source}": environment variable "{obj.environment}" '
                    "is not set", path=path,
                    hint=f"set {obj.environment} in the environment or an env file")
            content = environ[obj.environment]
        else:
            continue
        out.append(api.Mount(type="file", target=target, read_only=True,
                             content=content.encode("utf-8"), file_mode=ref.mode,
                             file_uid=_file_id(ref, kind, path, "uid", ref.uid),
                             file_gid=_file_id(ref, kind, path, "gid", ref.gid)))
    return out


def _file_id(ref: m.FileReference, kind: str, path: tuple[str | int, ...], what: str,
             value: str | None) -> int | None:
    """A numeric uid/gid (the engine sets ids, not names: the image's passwd is not ours)."""
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise StackError(f'{kind} "{ref.source}": {what} "{value}" must be a number',
                         path=path)
    return int(value)


def resources(svc: m.Service) -> api.Resources:
    limits = svc.deploy.resources.limits if svc.deploy and svc.deploy.resources else None
    reservations = (svc.deploy.resources.reservations
                    if svc.deploy and svc.deploy.resources else None)
    return api.Resources(
        memory=svc.mem_limit if svc.mem_limit is not None else (limits.memory if limits else None),
        memory_reservation=(svc.mem_reservation if svc.mem_reservation is not None
                            else (reservations.memory if reservations else None)),
        memory_swap=svc.memswap_limit,
        cpus=svc.cpus if svc.cpus is not None else (limits.cpus if limits else None),
        cpu_shares=svc.cpu_shares,
        cpuset_cpus=svc.cpuset,
        pids_limit=svc.pids_limit if svc.pids_limit is not None else (limits.pids if limits else None),
    )


def port_bindings(svc: m.Service, *, number: int) -> tuple[api.PortBinding, ...]:
    """Published ports of replica ``number``; a host port range gives each replica its own."""
    out: list[api.PortBinding] = []
    for p in svc.ports:
        rng = p.published_range()
        host_port: int | None = None
        if rng is not None:
            first, last = rng
            candidate = first + number - 1
            host_port = candidate if candidate <= last else None
            if first == last:
                host_port = first
        out.append(api.PortBinding(container_port=p.target, protocol=p.protocol.value,
                                   host_ip=p.host_ip or "", host_port=host_port))
    return tuple(out)


def healthcheck(hc: m.Healthcheck | None, *, image: api.Healthcheck | None = None
                ) -> api.Healthcheck | None:
    """The model's healthcheck over the image's; ``None`` leaves the image's in force."""
    if hc is None:
        return None
    if hc.disable or hc.test == ("NONE",):
        return api.Healthcheck(test=("NONE",))
    base = image or api.Healthcheck(test=())
    test = hc.test or base.test
    if not test:
        return None
    return api.Healthcheck(
        test=test,
        interval=hc.interval if hc.interval is not None else base.interval,
        timeout=hc.timeout if hc.timeout is not None else base.timeout,
        retries=hc.retries if hc.retries is not None else base.retries,
        start_period=hc.start_period if hc.start_period is not None else base.start_period,
        start_interval=(hc.start_interval if hc.start_interval is not None
                        else base.start_interval),
    )


def restart_policy(svc: m.Service) -> api.RestartPolicy:
    """``restart:`` wins; else ``deploy.restart_policy``; else no restarts."""
    rp = svc.deploy.restart_policy if svc.deploy else None
    delay = rp.delay if rp else None
    window = rp.window if rp else None
    if svc.restart:
        name, _, count = svc.restart.partition(":")
        if name in ("always", "unless-stopped", "on-failure", "no"):
            return api.RestartPolicy(name=name,  # type: ignore[arg-type]  # checked just above
                                     max_attempts=int(count) if count else None,
                                     delay=delay, window=window)
        return api.RestartPolicy()
    if rp is None:
        return api.RestartPolicy()
    condition = {m.RestartCondition.NONE: "no", m.RestartCondition.ON_FAILURE: "on-failure",
                 m.RestartCondition.ANY: "always", None: "always"}[rp.condition]
    return api.RestartPolicy(name=condition,  # type: ignore[arg-type]  # a RestartName by the table
                             max_attempts=rp.max_attempts, delay=delay, window=window)


# --- networks and volumes ---------------------------------------------------------


def network_config(stack: m.Stack, net: m.Network) -> api.NetworkConfig:
    labels = dict(net.labels)
    labels.update({api.LABEL_PROJECT: stack.name, api.LABEL_NETWORK: net.key,
                   api.LABEL_VERSION: __version__})
    pools = tuple(api.IpamPool(subnet=c.subnet, gateway=c.gateway, ip_range=c.ip_range)
                  for c in net.ipam.config if c.subnet)
    mtu = net.driver_opts.get("com.docker.network.driver.mtu")
    return api.NetworkConfig(
        name=net.name,
        driver=net.driver or "bridge",
        internal=net.internal,
        enable_ipv6=bool(net.enable_ipv6),
        ipam=pools,
        mtu=int(mtu) if mtu and mtu.isdigit() else None,
        labels=labels,
        options=dict(net.driver_opts),
    )


def volume_config(stack: m.Stack, vol: m.Volume) -> api.VolumeConfig:
    labels = dict(vol.labels)
    labels.update({api.LABEL_PROJECT: stack.name, api.LABEL_VOLUME: vol.key,
                   api.LABEL_VERSION: __version__})
    return api.VolumeConfig(name=vol.name, driver=vol.driver or "local",
                            driver_opts=dict(vol.driver_opts), labels=labels)
