"""The per-container /etc/hosts, /etc/hostname and /etc/resolv.conf (bind-mounted in).

Content builders are pure; ``host_resolv_conf`` reads the host's file. Off bridge
networks the host's resolvers are used, minus loopback ones that would point into
the container itself: systemd-resolved's stub 127.0.0.53 is replaced by the real
upstream list it keeps in /run/systemd/resolve/resolv.conf.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from runtime.api import EndpointInfo

HOST_RESOLV = Path("/etc/resolv.conf")
RESOLVED_UPSTREAM = Path("/run/systemd/resolve/resolv.conf")
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # Docker's choice when nothing else is left


def hosts_content(*, hostname: str, domainname: str | None,
                  endpoints: Sequence[EndpointInfo],
                  extra_hosts: Sequence[tuple[str, str]]) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for host, ip in extra_hosts:
        lines.append(f"{ip}\t{host}")
    for ep in endpoints:
        for addr in (ep.ipv4_address, ep.ipv6_address):
            if addr:
                lines.append(f"{addr.split('/')[0]}\t{names}")
    if not endpoints:
        lines.append(f"127.0.1.1\t{names}")
    return "\n".join(lines) + "\n"


def host_resolv_conf(*, loopback_ok: bool) -> str:
    """The host's resolv.conf, fit for a container (``loopback_ok``: host network)."""
    try:
        text = HOST_RESOLV.read_text()
    except OSError:
        text = ""
    if "127.0.0.53" in text and RESOLVED_UPSTREAM.exists():
        with contextlib.suppress(OSError):
            text = RESOLVED_UPSTREAM.read_text()
    return text if loopback_ok else _drop_loopback(text)


def _drop_loopback(text: str) -> str:
    out, servers = [], 0
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1:
            try:
                if ipaddress.ip_address(fields[1].split("%")[0]).is_loopback:
                    continue
            except ValueError:
                continue
            servers += 1
        out.append(line)
    if servers == 0:
        out += [f"nameserver {ns}" for ns in FALLBACK_NAMESERVERS]
    return "\n".join(out) + "\n"


def override_resolv(text: str, *, dns: Sequence[str], dns_search: Sequence[str],
                    dns_opt: Sequence[str]) -> str:
    """Apply ``dns``/``dns_search``/``dns_opt`` over a resolv.conf (each replaces its kind)."""
    lines = text.splitlines()
    if dns:
        lines = [x for x in lines if not x.startswith("nameserver")] + [
            f"nameserver {ns}" for ns in dns]
    if dns_search:
        lines = [x for x in lines if not x.startswith(("search", "domain"))] + [
            "search " + " ".join(dns_search)]
    if dns_opt:
        lines = [x for x in lines if not x.startswith("options")] + [
            "options " + " ".join(dns_opt)]
    return "\n".join(lines) + "\n"
