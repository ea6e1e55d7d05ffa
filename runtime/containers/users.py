"""Resolve a ``user`` setting ("name", "uid", "name:group", "uid:gid") in the image.

Names are looked up in the container's own /etc/passwd and /etc/group (the merged
rootfs), never the host's. Numeric ids need no entry, as in Docker; a name that
is not there is an error naming the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.errors import InvalidArgument


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def _read_table(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(spec: str, rootfs: Path) -> ResolvedUser:
    """Pure over the two files; ``rootfs`` is the mounted (merged) root of the container."""
    user, _, group = (spec or "0").partition(":")
    passwd = [r for r in _read_table(rootfs / "etc/passwd") if len(r) >= 7]
    groups = [[*r, ""] if len(r) == 3 else r
              for r in _read_table(rootfs / "etc/group") if len(r) >= 3]

    entry = next((r for r in passwd if r[0] == user or (user.isdigit() and r[2] == user)), None)
    if entry is None and not user.isdigit():
        raise InvalidArgument(f'user "{user}" not found in the image\'s /etc/passwd')
    uid = int(user) if user.isdigit() else int(entry[2])  # type: ignore[index]
    gid = int(entry[3]) if entry is not None else 0
    home = entry[5] if entry is not None and entry[5] else "/"

    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = next((r for r in groups if r[0] == group), None)
            if g is None:
                raise InvalidArgument(f'group "{group}" not found in the image\'s /etc/group')
            gid = int(g[2])
    extra: tuple[int, ...] = ()
    if entry is not None and not group:
        # Supplementary groups that list the user by name (like initgroups(3)).
        extra = tuple(sorted({int(g[2]) for g in groups
                              if g[2].isdigit() and entry[0] in g[3].split(",") and int(g[2]) != gid}))
    # Docker lists the primary group among the supplementary ones too (``id`` shows
    # ``groups=GID``), so a process that drops to its supplementary groups keeps it.
    return ResolvedUser(uid=uid, gid=gid, additional_gids=(gid, *extra), home=home)
