"""A stage's working state, and the instructions that only change the image config.

``StageState`` is the mutable working state of one stage while it builds:
its layers, its image config (Docker's JSON field names, so fields we do not
model, like OnBuild, survive), its history, the ARGs in scope and the cache
key of everything so far. ``apply_metadata`` handles ENV, LABEL, USER,
CMD, ENTRYPOINT, EXPOSE, VOLUME, STOPSIGNAL, SHELL, HEALTHCHECK, ONBUILD and
MAINTAINER.

Pure: no I/O.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.errors import InvalidArgument
from runtime.images.build.cache import CachedLayer
from runtime.images.build.parser import Instruction, key_values
from runtime.images.build.words import expand, expand_words

DEFAULT_SHELL = ("/bin/sh", "-c")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(slots=True, kw_only=True)
class StageState:
    """Mutable on purpose: one stage's state, changed step by step by the builder only."""

    key: str
    layers: list[CachedLayer] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the image config's "config" object
    history: list[dict[str, Any]] = field(default_factory=list)
    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    author: str = ""
    args: dict[str, str | None] = field(default_factory=dict)  # ARGs declared in this stage
    created: float = 0.0  # newest step's creation time (stable across cached rebuilds)
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT then keeps it)

    def fork(self) -> StageState:
        """A copy for a stage built FROM this one (ARGs do not carry over)."""
        return StageState(key=self.key, layers=list(self.layers),
                          config=copy.deepcopy(self.config), history=copy.deepcopy(self.history),
                          architecture=self.architecture, os=self.os, variant=self.variant,
                          author=self.author, created=self.created)

    @property
    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or ():
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def set_env(self, key: str, value: str) -> None:
        env = self.env
        env[key] = value
        self.config["Env"] = [f"{k}={v}" for k, v in env.items()]

    def scope(self) -> dict[str, str]:
        """Variables for substitution: ARGs with a value, then ENV over them."""
        out = {k: v for k, v in self.args.items() if v is not None}
        out.update(self.env)
        return out

    @property
    def shell(self) -> tuple[str, ...]:
        return tuple(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "/")


def parse_duration(text: str, *, what: str) -> float:
    """Go durations ("30s", "1m30s", "500ms") to seconds."""
    pos = 0
    total = 0.0
    if text in ("0", ""):
        return 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise InvalidArgument(f'{what}: invalid duration "{text}" (use e.g. 30s, 1m30s, 500ms)')
    return total


def _command(instruction: Instruction, state: StageState) -> list[str]:
    if instruction.json_form:
        return list(instruction.args)
    return [*state.shell, instruction.rest]


def _healthcheck(instruction: Instruction, state: StageState, where: str) -> dict[str, Any]:
    words = instruction.rest.split(None, 1)
    if not words:
        raise InvalidArgument(f"{where}: HEALTHCHECK needs NONE or CMD")
    kind = words[0].upper()
    if kind == "NONE":
        if len(words) > 1 or instruction.flags:
            raise InvalidArgument(f"{where}: HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD" or len(words) < 2:
        raise InvalidArgument(f"{where}: HEALTHCHECK must be NONE or CMD <command>")
    rest = words[1].strip()
    try:
        array = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        array = None
    if isinstance(array, list) and all(isinstance(a, str) for a in array):
        test = ["CMD", *array]
    else:
        test = ["CMD-SHELL", rest]
    out: dict[str, Any] = {"Test": test}
    for name, go_name in (("interval", "Interval"), ("timeout", "Timeout"),
                          ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        value = instruction.flag(name)
        if value:
            out[go_name] = int(parse_duration(value, what=f"{where}: --{name}") * 1e9)
    retries = instruction.flag("retries")
    if retries:
        if not retries.isdigit():
            raise InvalidArgument(f'{where}: --retries "{retries}" is not a number')
        out["Retries"] = int(retries)
    known = {"interval", "timeout", "start-period", "start-interval", "retries"}
    unknown = [k for k, _ in instruction.flags if k not in known]
    if unknown:
        raise InvalidArgument(f"{where}: unknown flag --{unknown[0]} for HEALTHCHECK")
    del state
    return out


def _port(word: str, where: str) -> str:
    number, _, proto = word.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f'{where}: EXPOSE "{word}": protocol must be tcp, udp or sctp')
    if not re.fullmatch(r"\d+(-\d+)?", number):
        raise InvalidArgument(f'{where}: EXPOSE "{word}": not a port or port range')
    return f"{number}/{proto}"


def apply_metadata(instruction: Instruction, state: StageState, *, escape: str,
                   where: str) -> str:
    """Apply a config-only instruction; returns its text after substitution (history, key)."""
    cmd = instruction.command
    scope = state.scope()
    cfg = state.config
    if cmd in ("ENV", "LABEL"):
        pairs = [(expand(k, scope, escape=escape), expand(v or "", scope, escape=escape))
                 for k, v in key_values(instruction, escape=escape, name=where.split(":")[0])]
        if cmd == "ENV":
            for k, v in pairs:
                state.set_env(k, v)
        else:
            labels = dict(cfg.get("Labels") or {})
            labels.update(pairs)
            cfg["Labels"] = labels
        return f"{cmd} " + " ".join(f"{k}={json.dumps(v) if ' ' in v or not v else v}"
                                    for k, v in pairs)
    if cmd == "USER":
        user = expand(instruction.rest, scope, escape=escape)
        if not user:
            raise InvalidArgument(f"{where}: USER needs a user name or id")
        cfg["User"] = user
        return f"USER {user}"
    if cmd in ("CMD", "ENTRYPOINT"):
        value = _command(instruction, state)
        if cmd == "CMD":
            cfg["Cmd"] = value
            state.cmd_set = True
        else:
            cfg["Entrypoint"] = value
            if not state.cmd_set:
                cfg["Cmd"] = None
        return f"{cmd} {json.dumps(value)}"
    if cmd == "EXPOSE":
        ports = [_port(w, where) for w in expand_words(instruction.rest, scope, escape=escape)]
        if not ports:
            raise InvalidArgument(f"{where}: EXPOSE needs at least one port")
        exposed = dict(cfg.get("ExposedPorts") or {})
        exposed.update({p: {} for p in ports})
        cfg["ExposedPorts"] = exposed
        return "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in ports) + "]"
    if cmd == "VOLUME":
        words = [expand(a, scope, escape=escape) for a in instruction.args] \
            if instruction.json_form else expand_words(instruction.rest, scope, escape=escape)
        if not words or any(not w.strip() for w in words):
            raise InvalidArgument(f"{where}: VOLUME needs at least one non-empty path")
        volumes = dict(cfg.get("Volumes") or {})
        volumes.update({w: {} for w in words})
        cfg["Volumes"] = volumes
        return f"VOLUME {json.dumps(words)}"
    if cmd == "STOPSIGNAL":
        signal = expand(instruction.rest, scope, escape=escape)
        if not signal:
            raise InvalidArgument(f"{where}: STOPSIGNAL needs a signal")
        cfg["StopSignal"] = signal
        return f"STOPSIGNAL {signal}"
    if cmd == "SHELL":
        if not instruction.args:
            raise InvalidArgument(f"{where}: SHELL needs at least one argument")
        cfg["Shell"] = list(instruction.args)
        return f"SHELL {json.dumps(list(instruction.args))}"
    if cmd == "HEALTHCHECK":
        cfg["Healthcheck"] = _healthcheck(instruction, state, where)
        return f"HEALTHCHECK {json.dumps(cfg['Healthcheck'], sort_keys=True)}"
    if cmd == "ONBUILD":
        assert instruction.trigger is not None
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), instruction.trigger.original]
        return f"ONBUILD {instruction.trigger.original}"
    if cmd == "MAINTAINER":
        state.author = expand(instruction.rest, scope, escape=escape)
        return f"MAINTAINER {state.author}"
    raise InvalidArgument(f"{where}: {cmd} is not a config instruction")


def base_config(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config`` object of a base image's config document (deep-copied)."""
    return copy.deepcopy(dict(doc.get("config") or {}))
