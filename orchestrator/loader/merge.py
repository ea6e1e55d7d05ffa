"""Merge override files (``-f a -f b``) and ``extends`` by the compose-spec rules.

The rules are a TABLE keyed by YAML path patterns (``*`` matches any key or
index), as in compose-go's ``override`` package; anything not in the table
follows the default: mappings merge key by key, sequences append, scalars are
replaced. Special cases:

- replaced whole: ``command``, ``entrypoint``, ``healthcheck.test``;
- merged as mappings even when a side uses list syntax (``KEY=VAL``):
  ``environment``, ``labels``, ``annotations``, ``sysctls``, ``build.args``,
  ``extra_hosts`` (``host:ip`` / ``host=ip``), ...;
- converted to their mapping form, then merged: ``depends_on``, service
  ``networks``, ``build`` (a string is the context);
- sequences whose entries are unique by a key: ``ports`` by (host_ip,
  published, target, protocol), ``volumes`` / ``devices`` by target,
  ``secrets`` / ``configs`` by target (or the default target of the source),
  ``env_file`` by path, ``dns``, ``cap_add``, ... by value: an entry from the
  override replaces the base entry with the same key, in its place;
- ``ulimits.*`` and ``logging`` merge only when compatible, else replace.

``!reset`` / ``!override`` markers (see ``yamlread``) in the override side are
honoured: ``RESET`` removes the key, ``Override(v)`` replaces without merging.
Markers on the base side have nothing earlier to act on and are stripped.

Pure: inputs are not modified; the result is built afresh, with a SourceMap
whose every position comes from the side that supplied the value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from orchestrator.errors import ConfigError, format_path
from orchestrator.loader.markers import RESET, Override
from orchestrator.loader.source import SourceMap

log = logging.getLogger(__name__)

P = tuple[str | int, ...]
_W: Final = "*"


def merge_documents(
    base: dict[str, Any], base_sources: SourceMap, over: dict[str, Any], over_sources: SourceMap,
) -> tuple[dict[str, Any], SourceMap]:
    """``over`` (a later file) merged onto ``base``; returns plain data and its positions."""
    out = SourceMap()
    merger = _Merger(bsrc=base_sources, osrc=over_sources, out=out, keep_markers=False)
    result = merger.merge(base, over, (), (), (), ())
    return result, out


def merge_service(
    base: dict[str, Any], *, base_sources: SourceMap, base_path: P,
    over: dict[str, Any], over_sources: SourceMap, over_path: P,
    out_sources: SourceMap, name: str,
) -> dict[str, Any]:
    """``extends``: the service ``over`` (at ``over_path``) merged onto ``base`` (at ``base_path``).

    Positions are written to ``out_sources`` under ``("services", name)``. Markers of
    ``over`` are kept in the result, because they also apply to the merge with earlier
    files that comes later (as in compose).
    """
    merger = _Merger(bsrc=base_sources, osrc=over_sources, out=out_sources, keep_markers=True)
    result = merger.merge(base, over, ("services", name), base_path, over_path, ("services", name))
    assert isinstance(result, dict)
    return result


def strip_markers(value: Any) -> Any:
    """``value`` without ``RESET`` entries and ``Override`` wrappers (a fresh copy)."""
    if isinstance(value, Override):
        return strip_markers(value.value)
    if isinstance(value, dict):
        return {k: strip_markers(v) for k, v in value.items() if v is not RESET}
    if isinstance(value, list):
        return [strip_markers(v) for v in value if v is not RESET]
    return value


class _Merger:
    __slots__ = ("bsrc", "keep_markers", "osrc", "out")

    def __init__(self, *, bsrc: SourceMap, osrc: SourceMap, out: SourceMap, keep_markers: bool) -> None:
        self.bsrc = bsrc
        self.osrc = osrc
        self.out = out
        self.keep_markers = keep_markers

    # -- copying one side -------------------------------------------------------------

    def take(self, value: Any, src: SourceMap, sp: P, outp: P, *, keep: bool = False) -> Any:
        """Copy ``value`` (found at ``sp`` in ``src``) to ``outp``, with its positions.

        Markers are stripped unless ``keep`` (the override side of an ``extends`` merge).
        """
        loc = src.positions.get(sp)
        if loc is not None:
            self.out.positions[outp] = loc
        if isinstance(value, Override):
            inner = self.take(value.value, src, sp, outp, keep=keep)
            return Override(inner) if keep else inner
        if isinstance(value, dict):
            return {k: self.take(v, src, (*sp, k), (*outp, k), keep=keep)
                    for k, v in value.items() if keep or v is not RESET}
        if isinstance(value, list):
            out: list[Any] = []
            for i, v in enumerate(value):
                if v is RESET and not keep:
                    continue
                out.append(self.take(v, src, (*sp, i), (*outp, len(out)), keep=keep))
            return out
        return value

    def base(self, value: Any, bp: P, outp: P) -> Any:
        return self.take(value, self.bsrc, bp, outp)

    def over(self, value: Any, op: P, outp: P) -> Any:
        return self.take(value, self.osrc, op, outp, keep=self.keep_markers)

    # -- merging ----------------------------------------------------------------------

    def merge(self, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
        """Merge override value ``o`` onto base value ``b``; ``rp`` is the path rules match."""
        if isinstance(o, Override):
            return self.over(o, op, outp)
        if isinstance(b, Override):
            b = b.value
        if o is None:
            return self.base(b, bp, outp)
        if b is None:
            return self.over(o, op, outp)
        rule = _rule_for(rp)
        if rule is not None:
            result = rule(self, b, o, rp, bp, op, outp)
        elif isinstance(b, dict):
            if not isinstance(o, dict):
                raise self._mismatch(b, o, rp, op)
            result = self.mapping(b, o, rp, bp, op, outp)
        elif isinstance(b, list):
            if not isinstance(o, list):
                raise self._mismatch(b, o, rp, op)
            result = self.sequence(b, o, bp, op, outp)
        else:
            return self.over(o, op, outp)
        self._locate(bp, op, outp)
        return result

    def _locate(self, bp: P, op: P, outp: P) -> None:
        loc = self.osrc.positions.get(op) or self.bsrc.positions.get(bp)
        if loc is not None:
            self.out.positions[outp] = loc

    def _mismatch(self, b: Any, o: Any, rp: P, op: P) -> ConfigError:
        return ConfigError(
            f"cannot override {format_path(rp)}: a {_kind(o)} cannot be merged into a {_kind(b)}",
            location=self.osrc.locate(op), path=rp,
            hint="use !override to replace the earlier value",
        )

    def mapping(self, b: dict[str, Any], o: dict[str, Any], rp: P, bp: P, op: P, outp: P,
                ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for k, bv in b.items():
            if bv is RESET:
                continue
            if k in o:
                ov = o[k]
                if ov is RESET:
                    if self.keep_markers:
                        result[k] = RESET
                    continue
                result[k] = self.merge(bv, ov, (*rp, k), (*bp, k), (*op, k), (*outp, k))
            else:
                result[k] = self.base(bv, (*bp, k), (*outp, k))
        for k, ov in o.items():
            if k in b and b[k] is not RESET:
                continue
            if ov is RESET and not self.keep_markers:
                continue
            result[k] = self.over(ov, (*op, k), (*outp, k))
        return result

    def sequence(self, b: list[Any], o: list[Any], bp: P, op: P, outp: P) -> list[Any]:
        result: list[Any] = []
        for i, v in enumerate(b):
            if v is not RESET:
                result.append(self.base(v, (*bp, i), (*outp, len(result))))
        for i, v in enumerate(o):
            if v is not RESET:
                result.append(self.over(v, (*op, i), (*outp, len(result))))
        return result

    # -- entries: (key, value, source map, source path) from either syntax ------------

    def entries(self, value: Any, src: SourceMap, sp: P, to_mapping: Callable[[Any], tuple[str, Any]],
                ) -> list[tuple[str, Any, SourceMap, P]]:
        if isinstance(value, dict):
            return [(k, v, src, (*sp, k)) for k, v in value.items() if v is not RESET]
        if isinstance(value, list):
            out = []
            for i, item in enumerate(value):
                if item is RESET:
                    continue
                key, val = to_mapping(item.value if isinstance(item, Override) else item)
                out.append((key, val, src, (*sp, i)))
            return out
        if isinstance(value, str):
            key, val = to_mapping(value)
            return [(key, val, src, sp)]
        return []


# -- the rules --------------------------------------------------------------------------

Rule = Callable[[_Merger, Any, Any, P, P, P, P], Any]


def _replace(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
    return m.over(o, op, outp)


def _key_value(item: Any) -> tuple[str, Any]:
    text = str(item)
    key, sep, value = text.partition("=")
    return key, (value if sep else None)


def _host_ip(item: Any) -> tuple[str, Any]:
    text = str(item)
    if "=" in text:
        host, _, ip = text.partition("=")
    else:
        host, _, ip = text.partition(":")
    return host, ip


def _extra_hosts(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
    """Both sides as ``host: ip`` mappings; a host may have several addresses, and the
    override adds its own to the earlier ones (compose keeps ``h=1.1.1.1`` and ``h=9.9.9.9``)."""
    merged: dict[str, list[Any]] = {}
    for side, src, sp, is_over in ((b, m.bsrc, bp, False), (o, m.osrc, op, True)):
        for key, value, vsrc, vsp in m.entries(side, src, sp, _host_ip):
            taken = m.take(value, vsrc, vsp, (*outp, key), keep=is_over and m.keep_markers)
            have = merged.setdefault(key, [])
            have.extend(ip for ip in (taken if isinstance(taken, list) else [taken]) if ip not in have)
    return {key: ips[0] if len(ips) == 1 else ips for key, ips in merged.items()}


def _as_mapping_rule(to_mapping: Callable[[Any], tuple[str, Any]]) -> Rule:
    """Both sides as mappings (list syntax converted); override values win per key."""

    def rule(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
        merged: dict[str, tuple[Any, SourceMap, P, bool]] = {}
        for key, value, src, sp in m.entries(b, m.bsrc, bp, to_mapping):
            merged[key] = (value, src, sp, False)
        for key, value, src, sp in m.entries(o, m.osrc, op, to_mapping):
            merged[key] = (value, src, sp, True)
        result: dict[str, Any] = {}
        for key, (value, src, sp, is_over) in merged.items():
            result[key] = m.take(value, src, sp, (*outp, key), keep=is_over and m.keep_markers)
        return result

    return rule


def _to_long_mapping(default: Callable[[], Any]) -> Rule:
    """Lists of names become ``{name: default()}``; then an ordinary mapping merge."""

    def convert(m: _Merger, value: Any, src: SourceMap, sp: P) -> tuple[dict[str, Any], SourceMap, P]:
        if isinstance(value, list):
            tmp = SourceMap()
            mapping: dict[str, Any] = {}
            for i, item in enumerate(value):
                if item is RESET:
                    continue
                name = str(item.value if isinstance(item, Override) else item)
                mapping[name] = default()
                loc = src.positions.get((*sp, i))
                if loc is not None:
                    tmp.positions[(name,)] = loc
            return mapping, tmp, ()
        if isinstance(value, dict):
            return value, src, sp
        raise ConfigError(f"{format_path(sp)} must be a list or a mapping",
                          location=src.locate(sp), path=sp)

    def rule(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
        bmap, bsrc, bsp = convert(m, b, m.bsrc, bp)
        omap, osrc, osp = convert(m, o, m.osrc, op)
        sub = _Merger(bsrc=bsrc, osrc=osrc, out=m.out, keep_markers=m.keep_markers)
        return sub.mapping(bmap, omap, rp, bsp, osp, outp)

    return rule


def _build(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
    if isinstance(b, str) and isinstance(o, str):
        return m.over(o, op, outp)
    bmap = {"context": b} if isinstance(b, str) else b
    omap = {"context": o} if isinstance(o, str) else o
    if not isinstance(bmap, dict) or not isinstance(omap, dict):
        raise m._mismatch(b, o, rp, op)
    # a string side has its position on the build key itself; ``context`` falls back to it
    return m.mapping(bmap, omap, rp, bp, op, outp)


def _ulimit(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
    if isinstance(b, dict) and isinstance(o, dict):
        return m.mapping(b, o, rp, bp, op, outp)
    return m.over(o, op, outp)


def _logging(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
    if not isinstance(b, dict) or not isinstance(o, dict):
        raise m._mismatch(b, o, rp, op)
    if "driver" not in b or "driver" not in o or b["driver"] == o["driver"]:
        return m.mapping(b, o, rp, bp, op, outp)
    return m.over(o, op, outp)


def _unique(key_of: Callable[[Any], Any], *, merge_same: bool = False) -> Rule:
    """Append, then keep one entry per key: a later entry replaces an earlier one in place."""

    def rule(m: _Merger, b: Any, o: Any, rp: P, bp: P, op: P, outp: P) -> Any:
        items: list[tuple[Any, bool, P]] = []
        for value, is_over, sp in ((b, False, bp), (o, True, op)):
            if isinstance(value, list):
                items += [(v, is_over, (*sp, i)) for i, v in enumerate(value) if v is not RESET]
            elif isinstance(value, (str, dict)):  # dns: 8.8.8.8, env_file: .env
                items.append((value, is_over, sp))
            else:
                raise m._mismatch(b, o, rp, op)
        slots: list[tuple[Any, bool, P]] = []
        index: dict[Any, int] = {}
        for value, is_over, sp in items:
            plain = value.value if isinstance(value, Override) else value
            key = key_of(plain)
            at = index.get(key)
            if at is None:
                index[key] = len(slots)
                slots.append((value, is_over, sp))
            elif merge_same and isinstance(plain, dict) and isinstance(slots[at][0], dict):
                slots[at] = (_Merged(slots[at], (value, is_over, sp)), True, sp)
            else:
                slots[at] = (value, is_over, sp)
        result = []
        for i, (value, is_over, sp) in enumerate(slots):
            if isinstance(value, _Merged):
                (bv, _, bsp), (ov, _, osp) = value.base, value.over
                result.append(m.merge(bv, ov, (*rp, i), bsp, osp, (*outp, i)))
            elif is_over:
                result.append(m.over(value, sp, (*outp, i)))
            else:
                result.append(m.base(value, sp, (*outp, i)))
        return result

    return rule


class _Merged:
    """Two entries with the same key that are merged, not replaced (ipam configs)."""

    __slots__ = ("base", "over")

    def __init__(self, base: tuple[Any, bool, P], over: tuple[Any, bool, P]) -> None:
        self.base = base
        self.over = over


def _port_key(item: Any) -> tuple[str, str, str, str]:
    """(host_ip, published, target, protocol) of a port in either syntax."""
    if isinstance(item, dict):
        host = str(item.get("host_ip") or "")
        return ("" if host == "0.0.0.0" else host, str(item.get("published") or ""),
                str(item.get("target", "")), str(item.get("protocol") or "tcp"))
    text = str(item)
    text, _, protocol = text.partition("/")
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        end = text.find("]")
        host_ip, text = text[1:end], text[end + 2:]
    parts = text.rsplit(":", 2) if not host_ip else text.rsplit(":", 1)
    target = parts[-1]
    published = parts[-2] if len(parts) >= 2 else ""
    if len(parts) == 3:
        host_ip = parts[0]
    return ("" if host_ip == "0.0.0.0" else host_ip), published, target, protocol or "tcp"


def _volume_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target", ""))
    parts = str(item).split(":")
    return parts[1] if len(parts) >= 2 else parts[0]


def _mount_key(default_dir: str) -> Callable[[Any], str]:
    def key(item: Any) -> str:
        if isinstance(item, dict):
            target = item.get("target")
            return str(target) if target else f"{default_dir}/{item.get('source', '')}"
        return f"{default_dir}/{item}"

    return key


def _env_file_key(item: Any) -> str:
    return str(item.get("path", "")) if isinstance(item, dict) else str(item)


def _value_key(item: Any) -> str:
    return str(item).partition("=")[0]


def _expose_key(item: Any) -> str:
    text = str(item)
    return text[:-4] if text.endswith("/tcp") else text


def _tmpfs_key(item: Any) -> str:
    return str(item).partition(":")[0]


def _ipam_key(item: Any) -> str:
    return str(item.get("subnet", "")) if isinstance(item, dict) else str(item)


_DEP_DEFAULT: Final = {"condition": "service_started", "required": True}

_RULES: Final[dict[tuple[str, ...], Rule]] = {}


def _add(rule: Rule, *dotted: str) -> None:
    for text in dotted:
        _RULES[tuple(text.split("."))] = rule


_add(_replace, "services.*.command", "services.*.entrypoint", "services.*.healthcheck.test")
_add(_as_mapping_rule(_key_value),
     "services.*.environment", "services.*.labels", "services.*.annotations",
     "services.*.sysctls", "services.*.build.args", "services.*.build.labels",
     "services.*.build.additional_contexts", "services.*.deploy.labels",
     "services.*.volumes.*.volume.labels", "networks.*.labels", "volumes.*.labels",
     "secrets.*.labels", "configs.*.labels", "networks.*.ipam.options")
_add(_extra_hosts, "services.*.extra_hosts", "services.*.build.extra_hosts")
_add(_to_long_mapping(lambda: dict(_DEP_DEFAULT)), "services.*.depends_on")
_add(_to_long_mapping(lambda: None), "services.*.networks")
_add(_build, "services.*.build")
_add(_ulimit, "services.*.ulimits.*")
_add(_logging, "services.*.logging")
_add(_unique(_port_key), "services.*.ports")
_add(_unique(_volume_key), "services.*.volumes", "services.*.devices")
_add(_unique(_mount_key("/run/secrets")), "services.*.secrets")
_add(_unique(_mount_key("")), "services.*.configs")
_add(_unique(_env_file_key), "services.*.env_file", "services.*.label_file")
_add(_unique(_expose_key), "services.*.expose")
_add(_unique(_tmpfs_key), "services.*.tmpfs")
_add(_unique(_value_key),
     "services.*.dns", "services.*.dns_opt", "services.*.dns_search", "services.*.cap_add",
     "services.*.cap_drop", "services.*.links", "services.*.profiles",
     "services.*.build.tags", "services.*.build.platforms",
     "services.*.networks.*.aliases", "services.*.networks.*.link_local_ips")
_add(_unique(_ipam_key, merge_same=True), "networks.*.ipam.config")

# Index: (length, last element) -> patterns; most paths then cost one dict lookup.
_INDEX: Final[dict[tuple[int, str], list[tuple[tuple[str, ...], Rule]]]] = {}
for _pattern, _rule in _RULES.items():
    _INDEX.setdefault((len(_pattern), _pattern[-1]), []).append((_pattern, _rule))


def _rule_for(path: P) -> Rule | None:
    if not path:
        return None
    last = path[-1]
    n = len(path)
    candidates = _INDEX.get((n, last), []) if isinstance(last, str) else []
    for pattern, rule in (*candidates, *_INDEX.get((n, _W), ())):
        if all(p in (_W, k) for p, k in zip(pattern, path, strict=True)):
            found: Rule = rule
            return found
    return None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "sequence"
    return "scalar"

