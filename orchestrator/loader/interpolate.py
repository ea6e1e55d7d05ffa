"""Stage 2: substitute ``${VAR}`` in every string value, as compose does.

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty),
``${VAR-default}`` (unset), ``${VAR:?message}`` / ``${VAR?message}``
(required), ``${VAR:+replacement}`` / ``${VAR+replacement}`` (set), nested
in defaults (``${A:-${B:-x}}``), and ``$$`` for a literal ``$``. A ``$`` that
starts none of these (``$1``, a trailing ``$``) stays as it is; ``${`` that
does not close or holds no valid name is an error. Mapping keys are not
interpolated (compose-go does not either).

After substitution, strings at the fields compose types as numbers or booleans
(``services.*.deploy.replicas``, ``services.*.privileged``, ...) are cast,
so ``replicas: ${N}`` validates as an integer. A string that does not cast is
left for the validator to report.

Pure: no I/O. Warnings (unset variables) go to the list the caller passes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from orchestrator.errors import ConfigError
from orchestrator.loader.markers import Override
from orchestrator.loader.source import SourceMap

log = logging.getLogger(__name__)

_NAME_START: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS: Final = _NAME_START | frozenset("0123456789")
_OPERATORS: Final = (":-", ":?", ":+", "-", "?", "+")

Lookup = Callable[[str], "str | None"]


class InvalidTemplateError(Exception):
    """A ``${...}`` that cannot be parsed."""

    def __init__(self, template: str) -> None:
        super().__init__(template)
        self.template = template


class TooDeepError(Exception):
    """Defaults nested more than ``MAX_NESTING`` levels: refused before Python's stack is."""


MAX_NESTING: Final = 50


class MissingRequiredError(Exception):
    """``${VAR:?message}`` / ``${VAR?message}`` with the variable missing."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(variable)
        self.variable = variable
        self.reason = reason


def substitute(template: str, *, lookup: Lookup, on_unset: Callable[[str], None]) -> str:
    """Expand ``template``; ``lookup`` returns None for an unset variable.

    ``on_unset`` is called for each plain ``$VAR`` / ``${VAR}`` that is unset.
    Raises InvalidTemplateError, MissingRequiredError or TooDeepError.
    """
    if "$" not in template:
        return template
    return _Expander(template, lookup, on_unset).run()


class _Expander:
    __slots__ = ("depth", "lookup", "on_unset", "text")

    def __init__(self, text: str, lookup: Lookup, on_unset: Callable[[str], None], depth: int = 0,
                 ) -> None:
        if depth > MAX_NESTING:
            raise TooDeepError
        self.text = text
        self.lookup = lookup
        self.on_unset = on_unset
        self.depth = depth

    def run(self) -> str:
        text = self.text
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            nxt = text[j + 1] if j + 1 < n else ""
            if nxt == "$":
                out.append("$")
                i = j + 2
            elif nxt == "{":
                value, i = self._braced(j)
                out.append(value)
            elif nxt in _NAME_START:
                k = j + 1
                while k < n and text[k] in _NAME_CHARS:
                    k += 1
                out.append(self._plain(text[j + 1:k]))
                i = k
            else:  # "$1", "$ ", a trailing "$": kept literally, as compose does
                out.append("$")
                i = j + 1
        return "".join(out)

    def _plain(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            self.on_unset(name)
            return ""
        return value

    def _braced(self, start: int) -> tuple[str, int]:
        """Expand the ``${...}`` starting at ``start``; return its value and the index after it."""
        text = self.text
        end = _closing_brace(text, start + 2)
        if end < 0:
            raise InvalidTemplateError(text)
        body = text[start + 2:end]
        k = 0
        while k < len(body) and body[k] in _NAME_CHARS:
            k += 1
        name = body[:k]
        if not name or name[0] not in _NAME_START:
            raise InvalidTemplateError(text)
        rest = body[k:]
        if not rest:
            return self._plain(name), end + 1
        op = next((o for o in _OPERATORS if rest.startswith(o)), None)
        if op is None:
            raise InvalidTemplateError(text)
        word = rest[len(op):]
        value = self.lookup(name)
        empty_counts = op.startswith(":")
        missing = value is None or (empty_counts and value == "")
        kind = op[-1]
        if kind == "-":
            result = self._nested(word) if missing else value
        elif kind == "+":
            result = "" if missing else self._nested(word)
        else:  # "?"
            if missing:
                raise MissingRequiredError(name, self._nested(word))
            result = value
        return result or "", end + 1

    def _nested(self, word: str) -> str:
        if "$" not in word:
            return word
        return _Expander(word, self.lookup, self.on_unset, self.depth + 1).run()


def _closing_brace(text: str, i: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``i``, or -1; braces nest."""
    depth = 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate(
    data: dict[str, Any],
    *,
    sources: SourceMap,
    environ: Mapping[str, str],
    warnings: list[str],
) -> dict[str, Any]:
    """Return ``data`` with every string value expanded (and typed fields cast).

    Pure: ``data`` is not modified. Each unset variable is warned about once per call.
    """
    warned: set[str] = set()

    def on_unset(name: str) -> None:
        if name not in warned:
            warned.add(name)
            warnings.append(f'The "{name}" variable is not set. Defaulting to a blank string.')

    walker = _Walker(environ=environ, sources=sources, on_unset=on_unset)
    result = walker.walk(data, ())
    assert isinstance(result, dict)
    return result


class _Walker:
    __slots__ = ("environ", "on_unset", "sources")

    def __init__(self, *, environ: Mapping[str, str], sources: SourceMap,
                 on_unset: Callable[[str], None]) -> None:
        self.environ = environ
        self.sources = sources
        self.on_unset = on_unset

    def walk(self, value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, str):
            return self._string(value, path)
        if isinstance(value, dict):
            return {k: self.walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, Override):
            return Override(self.walk(value.value, path))
        return value

    def _string(self, value: str, path: tuple[str | int, ...]) -> Any:
        if "$" in value:
            try:
                value = substitute(value, lookup=self.environ.get, on_unset=self.on_unset)
            except InvalidTemplateError as exc:
                raise ConfigError(
                    f'invalid interpolation format "{exc.template}"',
                    location=self.sources.locate(path), path=path,
                    hint="you may need to escape any $ with another $",
                ) from None
            except TooDeepError:
                raise ConfigError("interpolation is nested too deeply", location=self.sources.locate(path),
                                  path=path) from None
            except MissingRequiredError as exc:
                summary = f"required variable {exc.variable} is missing a value"
                if exc.reason:
                    summary += f": {exc.reason}"
                raise ConfigError(summary, location=self.sources.locate(path), path=path,
                                  hint=f"give {exc.variable} a value in the environment or in the .env file "
                                       f"of the project directory") from None
        return _cast(value, path)


# Fields compose types as numbers or booleans (compose-go's interpolateTypeCastMapping),
# indexed by the last path element so the common case (no match) costs one dict lookup.
_S = "services"
_W = "*"
_CASTS: Final[dict[str, tuple[tuple[tuple[str, ...], str], ...]]] = {}


def _register(kind: str, *patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        _CASTS[pattern[-1]] = (*_CASTS.get(pattern[-1], ()), (pattern, kind))


_register("int", *[(_S, _W, f) for f in (
    "cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares",
    "oom_score_adj", "pids_limit", "scale")],
    (_S, _W, "deploy", "replicas"), (_S, _W, "deploy", "update_config", "parallelism"),
    (_S, _W, "deploy", "rollback_config", "parallelism"),
    (_S, _W, "deploy", "restart_policy", "max_attempts"),
    (_S, _W, "deploy", "placement", "max_replicas_per_node"),
    (_S, _W, "healthcheck", "retries"), (_S, _W, "ports", _W, "target"),
    (_S, _W, "ulimits", _W), (_S, _W, "ulimits", _W, "hard"), (_S, _W, "ulimits", _W, "soft"))
_register("float", (_S, _W, "cpu_percent"), (_S, _W, "cpus"),
          (_S, _W, "deploy", "update_config", "max_failure_ratio"),
          (_S, _W, "deploy", "rollback_config", "max_failure_ratio"))
_register("bool", *[(_S, _W, f) for f in (
    "init", "oom_kill_disable", "privileged", "read_only", "stdin_open", "tty")],
    (_S, _W, "depends_on", _W, "required"), (_S, _W, "depends_on", _W, "restart"),
    (_S, _W, "healthcheck", "disable"), (_S, _W, "volumes", _W, "read_only"),
    (_S, _W, "volumes", _W, "volume", "nocopy"),
    *[(top, _W, f) for top in ("networks",) for f in (
        "external", "internal", "attachable", "enable_ipv4", "enable_ipv6")],
    ("volumes", _W, "external"), ("secrets", _W, "external"), ("configs", _W, "external"))

_BOOLS: Final = {"true": True, "false": False, "yes": True, "no": False, "y": True, "n": False,
                 "on": True, "off": False}


def _matches(path: tuple[str | int, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p in (_W, k) for k, p in zip(path, pattern, strict=True))


def _cast(value: str, path: tuple[str | int, ...]) -> Any:
    if not path:
        return value
    last = path[-1]
    candidates = (_CASTS.get(last, ()) if isinstance(last, str) else ()) + _CASTS.get(_W, ())
    for pattern, kind in candidates:
        if _matches(path, pattern):
            try:
                if kind == "int":
                    return int(value, 10)
                if kind == "float":
                    return float(value)
                return _BOOLS[value.lower()]
            except (ValueError, KeyError):
                return value  # the validator names the field and the expected type
    return value
