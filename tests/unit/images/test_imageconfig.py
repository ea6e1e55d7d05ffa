"""Image config documents: parse, build, chain ids."""

from __future__ import annotations

import hashlib
import json

from runtime.api import Healthcheck, ImageConfig
from runtime.images.imageconfig import build_config, chain_ids, parse_config, parse_time


def test_roundtrip() -> None:
    config = ImageConfig(env=("A=1",), entrypoint=("/bin/sh", "-c"), cmd=("echo hi",),
                         user="nobody", working_dir="/tmp", labels={"k": "v"},
                         exposed_ports=("80/tcp",), volumes=("/data",), stop_signal="SIGINT",
                         healthcheck=Healthcheck(test=("CMD", "true"), interval=5.0,
                                                 timeout=2.0, retries=4),
                         shell=("/bin/ash", "-c"))
    data = build_config(config=config, diff_ids=["sha256:" + "a" * 64], architecture="amd64",
                        os_name="linux", created=1700000000.5, history=[])
    parsed = parse_config(data)
    assert parsed.config == config
    assert parsed.created == 1700000000.5
    assert parsed.diff_ids == ("sha256:" + "a" * 64,)
    assert json.loads(data)["config"]["Healthcheck"]["Interval"] == 5_000_000_000


def test_parse_time_nanoseconds() -> None:
    assert parse_time("2023-01-02T03:04:05.123456789Z") == parse_time("2023-01-02T03:04:05.123456Z")
    assert parse_time("") == 0.0
    assert parse_time("garbage") == 0.0


def test_chain_ids() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    expected = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, expected]
