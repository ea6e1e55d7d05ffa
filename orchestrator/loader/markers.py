"""The `!reset` and `!override` markers, as the YAML reader leaves them for merge.

Apart from yamlread so that stages which only pass markers through
(interpolation, env files, extends) do not import PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


class _Reset:
    """The ``!reset`` marker: drop this value, and what earlier files said here."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RESET"


RESET: Final = _Reset()


@dataclass(frozen=True, slots=True)
class Override:
    """The ``!override`` marker: this value replaces the earlier one instead of merging."""

    value: Any
