"""The OCI image config document: parse its runtime part, build one for imports.

Pure: JSON in, dataclasses out; no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runtime.api import Healthcheck, ImageConfig
from runtime.errors import Failed

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedConfig:
    config: ImageConfig
    architecture: str
    os: str
    created: float
    diff_ids: tuple[str, ...]
    history: tuple[dict[str, Any], ...]


def _strs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def parse_time(value: Any) -> float:
    """RFC 3339 with nanoseconds (Go's format) to UNIX seconds; 0.0 when absent or odd."""
    if not isinstance(value, str) or not value:
        return 0.0
    text = value.replace("Z", "+00:00")
    if "." in text:  # Python accepts at most 6 fraction digits
        head, _, tail = text.partition(".")
        frac = ""
        rest = tail
        while rest and rest[0].isdigit():
            frac, rest = frac + rest[0], rest[1:]
        text = f"{head}.{frac[:6]}{rest}"
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def format_time(value: float) -> str:
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ns(value: Any, default: float) -> float:
    return float(value) / 1e9 if isinstance(value, int | float) and value else default


def parse_config(data: bytes) -> ParsedConfig:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise Failed(f"image config: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise Failed("image config: not a JSON object")
    c = doc.get("config") or {}
    hc = c.get("Healthcheck")
    health = None
    if isinstance(hc, dict) and hc.get("Test"):
        health = Healthcheck(test=tuple(hc["Test"]), interval=_ns(hc.get("Interval"), 30.0),
                             timeout=_ns(hc.get("Timeout"), 30.0),
                             retries=int(hc.get("Retries") or 3),
                             start_period=_ns(hc.get("StartPeriod"), 0.0),
                             start_interval=_ns(hc.get("StartInterval"), 5.0))
    config = ImageConfig(
        env=_strs(c.get("Env")) or (),
        entrypoint=_strs(c.get("Entrypoint")),
        cmd=_strs(c.get("Cmd")),
        user=str(c.get("User") or ""),
        working_dir=str(c.get("WorkingDir") or ""),
        labels=dict(c.get("Labels") or {}),
        exposed_ports=tuple(sorted((c.get("ExposedPorts") or {}).keys())),
        volumes=tuple(sorted((c.get("Volumes") or {}).keys())),
        stop_signal=str(c.get("StopSignal") or ""),
        healthcheck=health,
        shell=_strs(c.get("Shell")) or (),
    )
    rootfs = doc.get("rootfs") or {}
    return ParsedConfig(
        config=config,
        architecture=str(doc.get("architecture", "")),
        os=str(doc.get("os", "")),
        created=parse_time(doc.get("created")),
        diff_ids=tuple(rootfs.get("diff_ids") or ()),
        history=tuple(h for h in doc.get("history") or () if isinstance(h, dict)),
    )


def config_to_json(config: ImageConfig) -> dict[str, Any]:
    """The ``config`` object of an image config for ``config`` (Docker's field names)."""
    out: dict[str, Any] = {}
    if config.env:
        out["Env"] = list(config.env)
    if config.entrypoint is not None:
        out["Entrypoint"] = list(config.entrypoint)
    if config.cmd is not None:
        out["Cmd"] = list(config.cmd)
    if config.user:
        out["User"] = config.user
    if config.working_dir:
        out["WorkingDir"] = config.working_dir
    if config.labels:
        out["Labels"] = dict(config.labels)
    if config.exposed_ports:
        out["ExposedPorts"] = {p: {} for p in config.exposed_ports}
    if config.volumes:
        out["Volumes"] = {v: {} for v in config.volumes}
    if config.stop_signal:
        out["StopSignal"] = config.stop_signal
    if config.shell:
        out["Shell"] = list(config.shell)
    if config.healthcheck is not None:
        h = config.healthcheck
        out["Healthcheck"] = {"Test": list(h.test), "Interval": int(h.interval * 1e9),
                              "Timeout": int(h.timeout * 1e9), "Retries": h.retries,
                              "StartPeriod": int(h.start_period * 1e9),
                              "StartInterval": int(h.start_interval * 1e9)}
    return out


def build_config(*, config: ImageConfig, diff_ids: Sequence[str], architecture: str,
                 os_name: str, created: float, history: Sequence[dict[str, Any]],
                 variant: str = "") -> bytes:
    doc: dict[str, Any] = {
        "created": format_time(created),
        "architecture": architecture,
        "os": os_name,
        "config": config_to_json(config),
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": list(history),
    }
    if variant:
        doc["variant"] = variant
    return json.dumps(doc, separators=(",", ":")).encode()


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """OCI ChainIDs: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out
