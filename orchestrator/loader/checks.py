"""Stage: semantic checks over the bound model, the last loader stage.

Signature (called by ``load.load_project`` after bind)::

    check(stack: model.Stack, sources: SourceMap, *, warnings: list[str] | None = None) -> None

Pure: no I/O. Raises ``ConfigError`` for the first problem found, in service
order, with the location of the offending value; host ports that cannot all be
held at once are warnings (compose's ``config`` accepts them). Messages name the object,
then the problem, as compose does: ``service "web" has neither an image nor
a build context``. Last, dependency cycles (``graph.build_graph``) raise CycleError.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator

from orchestrator import model as m
from orchestrator.errors import ConfigError, format_path
from orchestrator.graph import check_cycles
from orchestrator.loader.source import SourceMap

P = tuple[str | int, ...]
_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


def check(stack: m.Stack, sources: SourceMap, *, warnings: list[str] | None = None) -> None:
    warn = warnings if warnings is not None else []
    for problem in _problems(stack, warn):
        summary, path, hint = problem
        raise ConfigError(summary, location=sources.locate(path), path=path, hint=hint)
    # warnings, not errors: compose's `config` accepts these, and `up SERVICE` of one of
    # two alternatives that share a port works; a full `up` would fail part-way
    for summary, path, hint in _port_conflicts(stack):
        location = sources.locate(path)
        where = f"{location}: " if location is not None else ""
        warn.append(f"{where}{format_path(path)}: {summary}; {hint}")
    check_cycles(stack, sources)


Problem = tuple[str, P, str | None]


def _problems(stack: m.Stack, warn: list[str]) -> Iterator[Problem]:
    for name, svc in stack.services.items():
        for fn in _SERVICE_CHECKS:
            yield from fn(stack, name, svc, warn)


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
    for dep in svc.depends_on:
        if dep == name:
            yield (f'service "{name}" depends on itself', (*base, "depends_on", dep), None)
        elif dep not in stack.services:
            # compose refuses this even with `required: false`: that only excuses a service
            # switched off by its profiles (profiles.py has dealt with those), not a missing one
            guess = difflib.get_close_matches(dep, list(stack.services), n=1, cutoff=0.6)
            yield (
                f'service "{name}" depends on undefined service "{dep}"',
                (*base, "depends_on", dep),
                f'did you mean "{guess[0]}"?' if guess else
                "define a service of that name, or remove the dependency",
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


_Published = tuple[str, int, m.Port, int, int]  # service, index, port, first, last host port


def _port_conflicts(stack: m.Stack) -> Iterator[Problem]:
    """Host ports that can never all be held at once.

    Compose's ``config`` accepts these and ``up`` fails part-way, so we warn up front:
    one fixed host port on two services, or on one service with more than one replica
    (each replica needs its own); a range with fewer ports than replicas, once the fixed
    ports other services publish inside it are taken out. Ranges against ranges are left
    to the engine, which picks a free port from each.
    """
    published: list[_Published] = []
    for name, svc in stack.services.items():
        if svc.network_mode == "host":
            continue
        for i, port in enumerate(svc.ports):
            rng = port.published_range()
            if rng is not None:
                published.append((name, i, port, rng[0], rng[1]))
    fixed = [p for p in published if p[3] == p[4]]
    order = {name: n for n, name in enumerate(stack.services)}
    for name, i, port, first, last in published:
        replicas = stack.services[name].replicas
        proto = port.protocol.value
        at: P = ("services", name, "ports", i)
        if first == last:
            if replicas > 1:
                yield (
                    f'service "{name}" publishes host port {first}/{proto} but runs {replicas} '
                    f"replicas: only one container can hold a host port",
                    at,
                    f'publish a range with a port per replica ("{first}-{first + replicas - 1}:'
                    f'{port.target}"), or leave the host port out so the engine picks one',
                )
            for other, _, other_port, _, _ in _clashing(fixed, name, port, first, first):
                ip = port.host_ip or other_port.host_ip or "*"
                if order[other] < order[name]:  # say it once, at the later service
                    yield (
                        f'services "{other}" and "{name}" both publish host port '
                        f"{first}/{proto} on {ip}",
                        at,
                        "change the published port of one of them",
                    )
            continue
        clashing = list(_clashing(fixed, name, port, first, last))
        taken = sorted({p[3] for p in clashing})
        free = last - first + 1 - len(taken)
        if free < replicas:
            by = ""
            if taken:
                named = ", ".join(f'"{u}"' for u in sorted({p[0] for p in clashing}))
                by = f" ({', '.join(map(str, taken))} published by {named})"
            yield (
                f'service "{name}" runs {replicas} replica(s) but host port range '
                f"{first}-{last}/{proto} has only {free} free port(s){by}",
                at,
                "widen the range, or run fewer replicas",
            )


def _clashing(fixed: list[_Published], name: str, port: m.Port, first: int, last: int,
              ) -> Iterator[_Published]:
    """Fixed ports of OTHER services in ``first..last`` that ``port`` cannot share."""
    for entry in fixed:
        other, _, other_port, number, _ = entry
        if (other != name and first <= number <= last
                and other_port.protocol is port.protocol
                and (_wildcard(port.host_ip) or _wildcard(other_port.host_ip)
                     or port.host_ip == other_port.host_ip)):
            yield entry


_SERVICE_CHECKS: tuple[Callable[[m.Stack, str, m.Service, list[str]], Iterator[Problem]], ...] = (
    _image_or_build,
    _references,
    _services_named,
    _exclusive,
)
