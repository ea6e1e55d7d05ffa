"""The content of a container's /etc/resolv.conf. Pure.

A container on networks asks the embedded DNS on its first network's gateway,
which answers for every network the container is on (it knows the asker by
its source address), so one nameserver line is enough; servers the user set
(``dns:``) follow it and are tried only when ours does not answer. A container
without networks (``none``, or ``host`` handled by the caller) gets the host's
resolvers.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.api import EndpointInfo

MAX_NAMESERVERS = 3  # what the C library reads


def render_resolv_conf(*, endpoints: Sequence[EndpointInfo], dns: Sequence[str],
                       dns_search: Sequence[str], dns_opt: Sequence[str],
                       host_servers: Sequence[str]) -> str:
    servers: list[str] = []
    gateways = [ep.gateway for ep in endpoints if ep.gateway and ":" not in ep.gateway]
    if gateways:
        servers.append(gateways[0])
    servers += [s for s in dns if s not in servers]
    if not endpoints and not dns:
        servers += [s for s in host_servers if not s.startswith("127.")]
    lines = [f"nameserver {s}" for s in servers[:MAX_NAMESERVERS]]
    if dns_search:
        lines.append("search " + " ".join(dns_search))
    if dns_opt:
        lines.append("options " + " ".join(dns_opt))
    return "\n".join(lines) + "\n"
