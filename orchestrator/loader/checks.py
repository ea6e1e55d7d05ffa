"""Stage: semantic checks over the bound model, the last loader stage.

Signature (called by ``load.load_project`` after bind)::

    check(stack: model.Stack, sources: SourceMap, *, warnings: list[str] | None = None) -> None

Pure: no I/O. Raises ``ConfigError`` for the first problem found, in service
order, with the location of the offending value. Messages name the object,
then the problem, as compose does: ``service "web" has neither an image nor
a build context``. Last, dependency cycles (``graph.build_graph``) raise CycleError.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from orchestrator import model as m
from orchestrator.errors import ConfigError
from orchestrator.graph import check_cycles
from orchestrator.loader.source import SourceMap

P = tuple[str | int, ...]
_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


def check(stack: m.Stack, sources: SourceMap, *, warnings: list[str] | None = None) -> None:
    warn = warnings if warnings is not None else []
    for problem in _problems(stack, warn):
        summary, path, hint = problem
        raise ConfigError(summary, location=sources.locate(path), path=path, hint=hint)
    check_cycles(stack, sources)


Problem = tuple[str, P, str | None]


def _problems(stack: m.Stack, warn: list[str]) -> Iterator[Problem]:
    for name, svc in stack.services.items():
        for fn in _SERVICE_CHECKS:
            yield from fn(stack, name, svc, warn)
    yield from _port_conflicts(stack)


def _image_or_build(
    stack: m.Stack, name: str, svc: m.Service, warn: list[str]
) -> Iterator[Problem]:
    if svc.image is None and svc.build is None:
        yield (
            f'service "{name}" has neither an image nor a build context',
            ("services", name),
            "add `image: NAME` or `build: DIRECTORY`",
        )


def _references(stack: m.Stack, name: str, svc: m.Service, warn: list[str]) -> Iterator[Problem]:
    base: P = ("services", name)
    for net in svc.networks:
        if net not in stack.networks:
            yield (
                f'service "{name}" refers to undefined network "{net}"',
                (*base, "networks", net),
                _declare_hint("networks", net, stack.networks),
            )
    for i, mount in enumerate(svc.volumes):
        if mount.type is m.MountType.VOLUME and mount.source and mount.source not in stack.volumes:
            yield (
                f'service "{name}" refers to undefined volume "{mount.source}"',
                (*base, "volumes", i),
                _declare_hint("volumes", mount.source, stack.volumes),
            )
    for kind, refs, known in (
        ("secret", svc.secrets, stack.secrets),
        ("config", svc.configs, stack.configs),
    ):
        for i, ref in enumerate(refs):
            if ref.source not in known:
                yield (
                    f'service "{name}" refers to undefined {kind} "{ref.source}"',
                    (*base, f"{kind}s", i),
                    _declare_hint(f"{kind}s", ref.source, known),
                )
    if svc.build is not None:
        for i, bsecret in enumerate(svc.build.secrets):
            if bsecret.source not in stack.secrets:
                yield (
                    f'service "{name}" build refers to undefined secret "{bsecret.source}"',
                    (*base, "build", "secrets", i),
                    _declare_hint("secrets", bsecret.source, stack.secrets),
                )


def _declare_hint(section: str, key: str, known: object) -> str:
    names = sorted(known) if isinstance(known, dict) else []
    have = f" (declared: {', '.join(names)})" if names else ""
    return f"declare it under the top-level `{section}:`{have}"


def _services_named(
    stack: m.Stack, name: str, svc: m.Service, warn: list[str]
) -> Iterator[Problem]:
    base: P = ("services", name)
    mode = svc.network_mode or ""
    if mode.startswith("service:") and mode[8:] not in stack.services:
        yield (
            f'service "{name}" uses network_mode "{mode}", but there is no service "{mode[8:]}"',
            (*base, "network_mode"),
            None,
        )
    for i, entry in enumerate(svc.volumes_from):
        if entry.startswith("container:"):
            continue
        other = entry.split(":", 1)[0]
        if other not in stack.services:
            yield (
                f'service "{name}" takes volumes_from undefined service "{other}"',
                (*base, "volumes_from", i),
                None,
            )
    for i, link in enumerate(svc.links):
        other = link.split(":", 1)[0]
        if other not in stack.services:
            yield (
                f'service "{name}" links to undefined service "{other}"',
                (*base, "links", i),
                None,
            )
    for dep, cond in svc.depends_on.items():
        if dep == name:
            yield (f'service "{name}" depends on itself', (*base, "depends_on", dep), None)
        elif dep not in stack.services:
            if cond.required:
                yield (
                    f'service "{name}" depends on undefined service "{dep}"',
                    (*base, "depends_on", dep),
                    "if it is in a profile, enable the profile, or set `required: false`",
                )
            else:
                warn.append(
                    f'service "{name}" depends on undefined service "{dep}" (not required: ignored)'
                )


def _exclusive(stack: m.Stack, name: str, svc: m.Service, warn: list[str]) -> Iterator[Problem]:
    base: P = ("services", name)
    if svc.network_mode is not None and svc.networks:
        yield (
            f'service "{name}" declares both network_mode and networks',
            (*base, "network_mode"),
            "network_mode shares another namespace; drop one of them",
        )
    if svc.container_name is not None and svc.replicas > 1:
        yield (
            f'service "{name}" sets container_name "{svc.container_name}" but asks for '
            f"{svc.replicas} replicas: a container name must be unique",
            (*base, "container_name"),
            "remove container_name, or run one replica",
        )
    if svc.restart is not None and not _RESTART.match(svc.restart):
        yield (
            f'service "{name}" has an invalid restart policy "{svc.restart}"',
            (*base, "restart"),
            "use no, always, on-failure[:N] or unless-stopped",
        )
    if (
        svc.deploy is not None
        and svc.scale is not None
        and svc.deploy.replicas is not None
        and svc.scale != svc.deploy.replicas
    ):
        yield (
            f'service "{name}" sets scale ({svc.scale}) and deploy.replicas '
            f"({svc.deploy.replicas}) to different values",
            (*base, "scale"),
            None,
        )
    for net, attach in svc.networks.items():
        for key, addr, version in (
            ("ipv4_address", attach.ipv4_address, 4),
            ("ipv6_address", attach.ipv6_address, 6),
        ):
            if addr is None:
                continue
            try:
                ok = ipaddress.ip_address(addr).version == version
            except ValueError:
                ok = False
            if not ok:
                yield (
                    f'service "{name}" has an invalid {key} "{addr}" on network "{net}"',
                    (*base, "networks", net, key),
                    None,
                )


def _wildcard(ip: str | None) -> bool:
    return ip in (None, "", "0.0.0.0", "::")


def _port_conflicts(stack: m.Stack) -> Iterator[Problem]:
    """Two services publishing one fixed host port/ip/protocol can never both start."""
    seen: dict[tuple[int, str], list[tuple[str, str | None, int]]] = {}
    for name, svc in stack.services.items():
        if svc.network_mode == "host":
            continue
        for i, port in enumerate(svc.ports):
            rng = port.published_range()
            if rng is None or rng[0] != rng[1]:
                continue  # ephemeral or a range: the engine picks a free one
            key = (rng[0], port.protocol.value)
            for other, other_ip, _ in seen.get(key, []):
                if other == name:
                    continue
                if _wildcard(port.host_ip) or _wildcard(other_ip) or port.host_ip == other_ip:
                    ip = port.host_ip or other_ip or "*"
                    yield (
                        f'services "{other}" and "{name}" both publish host port '
                        f"{rng[0]}/{port.protocol.value} on {ip}",
                        ("services", name, "ports", i),
                        "change the published port of one of them",
                    )
            seen.setdefault(key, []).append((name, port.host_ip, i))


_SERVICE_CHECKS: tuple[Callable[[m.Stack, str, m.Service, list[str]], Iterator[Problem]], ...] = (
    _image_or_build,
    _references,
    _services_named,
    _exclusive,
)
