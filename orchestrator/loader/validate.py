"""Stage: validate merged plain data against ``schemas/stack.schema.json``.

Signature (called by ``load.load_project`` after merge, before profiles)::

    validate(data: dict[str, Any], sources: SourceMap, *, use_cache: bool = True) -> None

Raises ``ConfigError`` for the first error by file position, with the next few
in ``detail``. Messages are for humans: the dotted path, the problem in plain
words, and a did-you-mean for misspelt keys and enum values.

Speed: importing jsonschema and building a validator costs ~100 ms, more than
the rest of ``stack config``. A successful validation is remembered on disk
(``$XDG_CACHE_HOME/stack/valid/<sha256 of schema + data>``, an empty file), so
loading an unchanged file again skips jsonschema entirely. Only successes are
cached, so a cache hit can never hide an error; a broken cache dir is ignored;
the least recently used entries are pruned past ``CACHE_ENTRIES``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemas
from orchestrator.errors import ConfigError, Location, format_path
from orchestrator.loader import cachedir
from orchestrator.loader.source import SourceMap

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

log = logging.getLogger(__name__)

SCHEMA_FILE = "stack.schema.json"
MAX_REPORTED = 8
CACHE_ENTRIES = 512

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def validate(data: dict[str, Any], sources: SourceMap, *, use_cache: bool = True) -> None:
    """Raise ConfigError unless ``data`` matches the stack schema."""
    key = _cache_key(data) if use_cache else None
    if key is not None and _cache_hit(key):
        return
    problems = [_describe(err, sources) for err in _validator().iter_errors(data)]
    if not problems:
        if key is not None:
            _cache_store(key)
        return
    problems.sort(key=_sort_key)
    first, rest = problems[0], problems[1:MAX_REPORTED]
    detail = None
    if rest:
        more = len(problems) - 1
        lines = [f"{more} more error{'s' if more > 1 else ''}:"]
        lines += [_one_line(p) for p in rest]
        if len(problems) > MAX_REPORTED:
            lines.append(f"... and {len(problems) - MAX_REPORTED} more")
        detail = "\n  ".join(lines)
    raise ConfigError(
        first.summary, location=first.location, path=first.path, detail=detail, hint=first.hint
    )


# --- the validator (built once) ------------------------------------------


@functools.cache
def schema() -> dict[str, Any]:
    with open(schemas.path(SCHEMA_FILE), encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


@functools.cache
def _schema_digest() -> str:
    return hashlib.sha256(schemas.path(SCHEMA_FILE).read_bytes()).hexdigest()


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # deferred: ~100 ms to import

    return Draft202012Validator(schema())


# --- the on-disk cache of successes --------------------------------------


def _cache_dir() -> Path:
    return cachedir.cache_dir("valid")


def _typed(obj: object) -> str:
    # Non-JSON YAML values (dates, bytes) must not collide with their string form.
    return f"<{type(obj).__name__}>{obj!r}"


def _cache_key(data: object) -> str | None:
    try:
        text = json.dumps(data, sort_keys=True, default=_typed, separators=(",", ":"))
    except (TypeError, ValueError):  # non-string keys etc.: just validate
        return None
    h = hashlib.sha256(_schema_digest().encode())
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _cache_hit(key: str) -> bool:
    try:
        os.utime(_cache_dir() / key)  # a hit is a use: keeps it among the entries pruning keeps
    except OSError:
        return False
    return True


def _cache_store(key: str) -> None:
    try:
        d = _cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        (d / key).touch()
        cachedir.prune(d, limit=CACHE_ENTRIES)
    except OSError as exc:  # read-only home, full disk: validation still worked
        log.debug("cannot cache validation result: %s", exc)




# --- turning jsonschema errors into messages --------------------------------


class _Problem:
    __slots__ = ("hint", "location", "path", "summary")

    def __init__(
        self,
        *,
        summary: str,
        path: tuple[str | int, ...],
        location: Location | None,
        hint: str | None = None,
    ) -> None:
        self.summary = summary
        self.path = path
        self.location = location
        self.hint = hint


def _sort_key(p: _Problem) -> tuple[str, int, int, str]:
    loc = p.location
    if loc is None:
        return ("\uffff", 0, 0, format_path(p.path))
    return (loc.file, loc.line, loc.column, format_path(p.path))


def _one_line(p: _Problem) -> str:
    where = f"{p.location}: " if p.location else ""
    path = f"{format_path(p.path)}: " if p.path else ""
    return f"{where}{path}{p.summary}"


def _path_of(err: ValidationError) -> tuple[str | int, ...]:
    return tuple(p if isinstance(p, int) else str(p) for p in err.absolute_path)


def _branch_errors(err: ValidationError) -> dict[int, list[ValidationError]]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in err.context or ():
        idx = sub.relative_schema_path[0] if sub.relative_schema_path else 0
        branches.setdefault(int(idx), []).append(sub)
    return branches


def _pick(err: ValidationError) -> ValidationError:
    """The most relevant error among oneOf/anyOf branches: a branch whose
    shape (type) matched the value explains the problem better than one that
    wanted another type altogether."""
    if err.validator not in ("oneOf", "anyOf") or not err.context:
        return err
    depth = len(err.absolute_path)
    fitting: list[list[ValidationError]] = []
    for subs in _branch_errors(err).values():
        wrong_shape = any(
            s.validator in ("type", "enum", "const") and len(s.absolute_path) == depth for s in subs
        )
        if not wrong_shape:
            fitting.append(subs)
    if not fitting:
        return err  # no branch had the right type: described as a type error
    best = max(fitting, key=lambda subs: (max(len(s.absolute_path) for s in subs), -len(subs)))
    chosen = min(
        best,
        key=lambda s: (
            -len(s.absolute_path),
            s.validator != "additionalProperties",
            str(s.message),
        ),
    )
    return _pick(chosen)


def _allowed_types(schema_part: Any) -> list[str]:
    """Types a (sub)schema accepts, following $refs and oneOf branches."""
    out: list[str] = []
    if not isinstance(schema_part, Mapping):
        return out
    if "$ref" in schema_part:
        name = str(schema_part["$ref"]).rsplit("/", 1)[-1]
        return _allowed_types(schema()["$defs"].get(name, {}))
    t = schema_part.get("type")
    if isinstance(t, str):
        out.append(t)
    elif isinstance(t, list):
        out.extend(str(x) for x in t)
    if "enum" in schema_part:
        out.append("string")
    for key in ("oneOf", "anyOf"):
        for branch in schema_part.get(key, ()):
            out.extend(x for x in _allowed_types(branch) if x not in out)
    if "integer" in out and "number" in out:
        out.remove("integer")
    return out


def _type_words(types: list[str]) -> str:
    # A field that takes a string or a number is, for humans, "a string or a number".
    words = [_TYPE_WORDS.get(t, t) for t in dict.fromkeys(types) if t != "null"]
    if not words:
        return "null"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _quote(value: object) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else f'"{value}"'


def _suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _unexpected_keys(err: ValidationError) -> Iterator[str]:
    instance = err.instance if isinstance(err.instance, dict) else {}
    sch = err.schema if isinstance(err.schema, Mapping) else {}
    props = sch.get("properties", {})
    patterns = list(sch.get("patternProperties", {}))
    for key in instance:
        if key in props:
            continue
        if any(re.search(p, str(key)) for p in patterns):
            continue
        yield str(key)


def _service_keys() -> frozenset[str]:
    services = schema()["properties"]["services"]["patternProperties"]
    return frozenset(next(iter(services.values()))["properties"])


def _type_hint(path: tuple[str | int, ...], types: list[str], value: object) -> str | None:
    """What to write instead, for the usual shape mistakes."""
    if len(path) == 2 and path[0] == "services" and str(path[1]) in _service_keys():
        # `ports:` one level too far left is read as a service named "ports"
        return (f"`{path[1]}` is indented as a service name; if it belongs to the service "
                f"above, indent it under that service")
    if "object" in types and "array" not in types and isinstance(value, list):
        return "write `key: value` lines here, not `- ` list items"
    if types == ["array"] and isinstance(value, dict):
        return "write `- ` list items here, not `key: value` lines"
    if types == ["array"] and value is not None and not isinstance(value, (list, dict)):
        return f"write a list: `[{_quote(value)}]`, or `- ` items on the lines below"
    return None


def _describe(err: ValidationError, sources: SourceMap) -> _Problem:
    err = _pick(err)
    path = _path_of(err)
    loc = sources.locate(path)
    v = err.validator
    if v == "additionalProperties":
        sch = err.schema if isinstance(err.schema, Mapping) else {}
        keys = list(_unexpected_keys(err))
        key = keys[0] if keys else "?"
        kloc = sources.locate((*path, key)) or loc
        props = sorted(sch.get("properties", {}))
        if not props:  # a map of names (services, networks, ...)
            return _Problem(
                summary=f'invalid name "{key}": use only letters, digits, ".", "_" and "-"',
                path=path,
                location=kloc,
            )
        guess = _suggest(key, props)
        summary = f'unknown key "{key}"' if path else f'unknown top-level key "{key}"'
        hint = None
        if guess:
            summary += f' (did you mean "{guess}"?)'
        elif any(p.startswith("^x-") for p in sch.get("patternProperties", {})):
            hint = f"remove it, or rename it x-{key} to keep it as an extension field"
        return _Problem(summary=summary, path=path, location=kloc, hint=hint)
    if v == "type" or (v in ("oneOf", "anyOf") and err.context):
        types = _allowed_types(err.schema)
        summary = f"must be {_type_words(types)}, not {_kind(err.instance)}"
        if err.instance is None:
            summary = f"must be {_type_words(types)}, not empty (null)"
        return _Problem(summary=summary, path=path, location=loc,
                        hint=_type_hint(path, types, err.instance))
    if v == "enum":
        choices = [str(c) for c in err.validator_value]
        summary = f"{_quote(err.instance)} is not allowed: use one of " + ", ".join(
            f'"{c}"' for c in choices
        )
        hint = None
        if isinstance(err.instance, str):
            guess = _suggest(err.instance, choices)
            if guess:
                summary = f'{_quote(err.instance)} is not allowed (did you mean "{guess}"?)'
        return _Problem(summary=summary, path=path, location=loc, hint=hint)
    if v == "required":
        missing = [k for k in err.validator_value if k not in (err.instance or {})]
        name = missing[0] if missing else "?"
        return _Problem(summary=f'missing required key "{name}"', path=path, location=loc)
    if v == "uniqueItems":
        return _Problem(summary="contains duplicate entries", path=path, location=loc)
    if v == "pattern":
        # A pattern of alternatives (pull_policy) reads as a list of choices.
        words = [
            w for w in re.split(r"[|()^$]", str(err.validator_value)) if re.fullmatch(r"[\w-]+", w)
        ]
        summary = f"{_quote(err.instance)} is not a valid value"
        if words:
            guess = _suggest(str(err.instance), words)
            summary += (
                f' (did you mean "{guess}"?)' if guess else ": use one of " + ", ".join(words)
            )
        return _Problem(summary=summary, path=path, location=loc)
    if v in ("oneOf", "anyOf"):
        return _Problem(summary="matches none of the allowed forms", path=path, location=loc)
    return _Problem(summary=str(err.message), path=path, location=loc)
