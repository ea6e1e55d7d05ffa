from __future__ import annotations

import pytest

from orchestrator.loader.ports import long_port, short_port


def p(target: int, published: str | None = None, host_ip: str | None = None, protocol: str = "tcp") -> dict[str, object]:
    d: dict[str, object] = {"mode": "ingress", "target": target, "protocol": protocol}
    if host_ip:
        d["host_ip"] = host_ip
    if published:
        d["published"] = published
    return d


@pytest.mark.parametrize(("spec", "expected"), [
    (80, [p(80)]),
    ("80", [p(80)]),
    ("8080:80", [p(80, "8080")]),
    ("53:53/udp", [p(53, "53", protocol="udp")]),
    ("127.0.0.1:8080:80", [p(80, "8080", "127.0.0.1")]),
    ("127.0.0.1::80", [p(80, None, "127.0.0.1")]),
    ("[::1]:443:443", [p(443, "443", "::1")]),
    ("::1:7000:7000", [p(7000, "7000", "::1")]),
    ("8000-8001:80-81", [p(80, "8000"), p(81, "8001")]),
    ("9000-9002:80", [p(80, "9000-9002")]),
    ("80-81", [p(80), p(81)]),
    ("127.0.0.1:9000-9001:9000-9001/udp", [p(9000, "9000", "127.0.0.1", "udp"), p(9001, "9001", "127.0.0.1", "udp")]),
])
def test_short_ports(spec: object, expected: list[dict[str, object]]) -> None:
    assert short_port(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("80:http", '"80:http" is not a valid port: container port "http" is not a number or range'),
    ("70000", '"70000" is not a valid port: container port 70000 is out of range 1-65535'),
    ("80/xyz", '"80/xyz" is not a valid port: unknown protocol "xyz" (use tcp, udp or sctp)'),
    ("8000-8002:80-81", '"8000-8002:80-81" is not a valid port: the host range has 3 ports and the container range 2'),
    ("90-80", '"90-80" is not a valid port: container port range 90-80 ends before it starts'),
    ("[::1:80:80", '"[::1:80:80" is not a valid port: unclosed "[" around the host address'),
])
def test_bad_short_ports(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        short_port(spec)
    assert str(exc.value) == message


def test_long_port() -> None:
    assert long_port({"target": "80", "published": 8080, "protocol": "udp", "host_ip": "10.0.0.1"}) == {
        "mode": "ingress", "target": 80, "published": "8080", "host_ip": "10.0.0.1", "protocol": "udp"}
    with pytest.raises(ValueError, match=r"^unknown port mode \"x\" \(use ingress or host\)$"):
        long_port({"target": 80, "mode": "x"})
