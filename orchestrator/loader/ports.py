"""Port syntax: compose's short and long forms to long-form mappings.

Pure: no I/O. Raises ValueError with a message for humans; the caller adds
the location. Short form: ``[[HOST_IP:][HOST_PORT[-END]]:]CONTAINER_PORT[-END][/PROTOCOL]``
with IPv6 host addresses in brackets (``[::1]:80:80``) or bare (``::1:80:80``).
A container range is expanded to one entry per port (paired with a host
range of the same length); a host range for one container port stays a
range (the engine picks a free port from it), as compose does.
"""

from __future__ import annotations

from typing import Any

PROTOCOLS = ("tcp", "udp", "sctp")


def _range(text: str, what: str, original: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    try:
        a = int(first)
        b = int(last) if sep else a
    except ValueError:
        raise ValueError(
            f'"{original}" is not a valid port: {what} "{text}" is not a number or range'
        ) from None
    if not (0 < a <= 65535 and 0 < b <= 65535):
        raise ValueError(f'"{original}" is not a valid port: {what} {text} is out of range 1-65535')
    if b < a:
        raise ValueError(
            f'"{original}" is not a valid port: {what} range {text} ends before it starts'
        )
    return a, b


def short_port(spec: object) -> list[dict[str, Any]]:
    if isinstance(spec, bool):
        raise ValueError(f'"{spec}" is not a valid port')
    text = str(spec).strip()
    original = text
    protocol = "tcp"
    if "/" in text:
        text, _, protocol = text.rpartition("/")
        if protocol not in PROTOCOLS:
            raise ValueError(
                f'"{original}" is not a valid port: unknown protocol "{protocol}" (use tcp, udp or sctp)'
            )
    host_ip = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError(
                f'"{original}" is not a valid port: unclosed "[" around the host address'
            )
        host_ip, text = text[1:end], text[end + 2 :]
        host, _, container = text.rpartition(":")
    else:
        parts = text.split(":")
        if len(parts) == 1:
            host, container = "", parts[0]
        elif len(parts) == 2:
            host, container = parts
        else:
            container = parts[-1]
            host = parts[-2]
            host_ip = ":".join(parts[:-2])
    if not container:
        raise ValueError(f'"{original}" is not a valid port: no container port')
    c_first, c_last = _range(container, "container port", original)
    entries: list[dict[str, Any]] = []

    def entry(target: int, published: str | None) -> dict[str, Any]:
        e: dict[str, Any] = {"mode": "ingress", "target": target, "protocol": protocol}
        if host_ip:
            e["host_ip"] = host_ip
        if published:
            e["published"] = published
        return e

    count = c_last - c_first + 1
    if not host:
        return [entry(p, None) for p in range(c_first, c_last + 1)]
    h_first, h_last = _range(host, "host port", original)
    h_count = h_last - h_first + 1
    if count == 1:
        published = str(h_first) if h_count == 1 else f"{h_first}-{h_last}"
        return [entry(c_first, published)]
    if h_count != count:
        raise ValueError(
            f'"{original}" is not a valid port: the host range has {h_count} ports '
            f"and the container range {count}"
        )
    for i in range(count):
        entries.append(entry(c_first + i, str(h_first + i)))
    return entries


def long_port(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": str(spec.get("mode") or "ingress")}
    target = spec.get("target")
    if target is None:
        raise ValueError("a port needs a target (the container port)")
    try:
        out["target"] = int(str(target))
    except ValueError:
        raise ValueError(f'"{target}" is not a valid container port') from None
    if not 0 < out["target"] <= 65535:
        raise ValueError(f"container port {out['target']} is out of range 1-65535")
    published = spec.get("published")
    if published is not None and str(published) != "":
        _range(str(published), "host port", str(published))
        out["published"] = str(published)
    if spec.get("host_ip"):
        out["host_ip"] = str(spec["host_ip"])
    protocol = str(spec.get("protocol") or "tcp")
    if protocol not in PROTOCOLS:
        raise ValueError(f'unknown protocol "{protocol}" (use tcp, udp or sctp)')
    out["protocol"] = protocol
    for key in ("name", "app_protocol"):
        if spec.get(key):
            out[key] = str(spec[key])
    if out["mode"] not in ("ingress", "host"):
        raise ValueError(f'unknown port mode "{out["mode"]}" (use ingress or host)')
    return out
