"""Pure helpers: users, CRI log lines, short syntax, codec, etc files, signals."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from runtime.api import ContainerConfig, EndpointInfo, Mount, PortBinding, Resources
from runtime.containers import codec, etcfiles, shortsyntax
from runtime.containers.logs import parse_line, parse_time, read_logs
from runtime.containers.stop import catches, parse_signal
from runtime.containers.users import resolve_user
from runtime.errors import InvalidArgument


def test_users_resolve_in_the_image(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1001:\nextra:x:2000:app,other\nstaff:x:50\n")
    assert resolve_user("", tmp_path).uid == 0
    app = resolve_user("app", tmp_path)
    assert (app.uid, app.gid, app.additional_gids, app.home) == (1000, 1001, (1001, 2000), "/home/app")
    assert resolve_user("1000", tmp_path).gid == 1001
    assert (resolve_user("4242:7", tmp_path).uid, resolve_user("4242:7", tmp_path).gid) == (4242, 7)
    assert resolve_user("app:staff", tmp_path).gid == 50
    with pytest.raises(InvalidArgument, match='user "nobody" not found'):
        resolve_user("nobody", tmp_path)


def test_cri_log_lines() -> None:
    e = parse_line(b"2026-11-28T13:15:41.319113469+00:00 stdout F hello world")
    assert e is not None and (e.stream, e.data, e.partial) == ("stdout", b"hello world", False)
    assert abs(e.time - 1795871741.319113469) < 1e-5
    p = parse_line(b"2026-11-28T13:15:41Z stderr P part")
    assert p is not None and p.partial and p.stream == "stderr"
    assert parse_line(b"garbage") is None
    assert parse_time(b"2026-11-28T15:15:41.5+02:00") == parse_time(b"2026-11-28T13:15:41.5Z")


def test_read_logs_tail_since_and_partial_last_line(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes(b"2026-01-01T00:00:01Z stdout F a\n2026-01-01T00:00:02Z stdout F b\n"
                    b"2026-01-01T00:00:03Z stderr F c\n2026-01-01T00:00:04Z std")
    def data(**kw: object) -> list[bytes]:
        return [e.data for e in read_logs(log, follow=False, still_running=lambda: False,
                                          **kw)]  # type: ignore[arg-type]
    assert data(since=None, tail=None) == [b"a", b"b", b"c"]
    assert data(since=None, tail=2) == [b"b", b"c"]
    assert data(since=parse_time(b"2026-01-01T00:00:02Z"), tail=None) == [b"b", b"c"]
    assert data(since=None, tail=0) == []


def test_short_syntax() -> None:
    assert shortsyntax.parse_volume("/data") == Mount(type="volume", target="/data")
    assert shortsyntax.parse_volume("db:/var/lib:ro") == Mount(type="volume", source="db",
                                                                target="/var/lib", read_only=True)
    assert shortsyntax.parse_volume("/h:/c").type == "bind"
    with pytest.raises(InvalidArgument):
        shortsyntax.parse_volume("a:b")
    assert shortsyntax.parse_port("127.0.0.1:8080:80/udp") == [PortBinding(
        container_port=80, host_port=8080, host_ip="127.0.0.1", protocol="udp")]
    assert [p.host_port for p in shortsyntax.parse_port("8000-8001:80-81")] == [8000, 8001]
    assert shortsyntax.parse_port("80") == [PortBinding(container_port=80)]
    assert shortsyntax.parse_size("64m") == 64 << 20 and shortsyntax.parse_size("1.5g") == 3 << 29
    assert shortsyntax.parse_tmpfs("/t:size=1m,mode=1777") == Mount(
        type="tmpfs", target="/t", tmpfs_size=1 << 20, tmpfs_mode=0o1777)
    assert shortsyntax.parse_tmpfs("/t:exec,ro") == Mount(
        type="tmpfs", target="/t", tmpfs_exec=True, read_only=True)
    with pytest.raises(InvalidArgument, match='tmpfs "/t:mode=9": bad mode "9"'):
        shortsyntax.parse_tmpfs("/t:mode=9")
    with pytest.raises(InvalidArgument, match='tmpfs "/t:uid=1": unknown option "uid"'):
        shortsyntax.parse_tmpfs("/t:uid=1")
    assert shortsyntax.parse_env(["A=1", "HOME", "NOPE"], {"HOME": "/h"}) == {"A": "1", "HOME": "/h"}
    assert shortsyntax.parse_restart("on-failure:3").max_attempts == 3


def test_codec_round_trip() -> None:
    config = ContainerConfig(name="n", image="i", command=("a",), env={"k": "v"},
                             mounts=(Mount(type="tmpfs", target="/t", tmpfs_size=5),),
                             resources=Resources(cpus=0.5), ports=(PortBinding(container_port=1),),
                             extra_hosts=(("h", "1.2.3.4"),))
    assert codec.from_data(ContainerConfig, codec.to_data(config)) == config


def test_etc_files() -> None:
    ep = EndpointInfo(network="n", network_id="i", interface="eth0", ipv4_address="10.0.0.2/24",
                      ipv6_address=None, mac_address="m", gateway="10.0.0.1", aliases=())
    hosts = etcfiles.hosts_content(hostname="web", domainname=None, endpoints=[ep],
                                   extra_hosts=[("db", "10.0.0.9")])
    assert "10.0.0.2\tweb\n" in hosts and "10.0.0.9\tdb\n" in hosts
    resolv = etcfiles._drop_loopback("nameserver 127.0.0.53\nsearch x\n")
    assert "127.0.0.53" not in resolv and "nameserver 8.8.8.8" in resolv
    assert etcfiles.override_resolv("nameserver 1.1.1.1\n", dns=["9.9.9.9"], dns_search=[],
                                    dns_opt=["ndots:1"]) == "nameserver 9.9.9.9\noptions ndots:1\n"


def test_signals_and_handler_detection() -> None:
    assert parse_signal("term") == parse_signal("SIGTERM") == parse_signal(15) == signal.SIGTERM
    with pytest.raises(InvalidArgument):
        parse_signal("SIGNOPE")
    previous = signal.signal(signal.SIGUSR2, lambda *_: None)
    try:
        assert catches(os.getpid(), signal.SIGUSR2) is True
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert catches(os.getpid(), signal.SIGUSR2) is False


def test_anonymous_volumes_are_named_in_the_config() -> None:
    from runtime.containers.mounts import anonymous_targets, name_anonymous

    config = ContainerConfig(name="n", image="i", mounts=(
        Mount(type="volume", target="/anon"), Mount(type="volume", source="db", target="/db"),
        Mount(type="bind", source="/h", target="/data")))
    targets = anonymous_targets(config, ["/data", "/cache"])
    assert targets == ["/anon", "/cache"]  # /data is covered by a bind mount
    named = name_anonymous(config, [("/anon", "a1"), ("/cache", "c1")])
    assert [(m.type, m.source, m.target) for m in named] == [
        ("volume", "a1", "/anon"), ("volume", "db", "/db"), ("bind", "/h", "/data"),
        ("volume", "c1", "/cache")]
