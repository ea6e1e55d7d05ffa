"""``Value``: equality, hash and repr for frozen dataclasses, written once.

The dataclass decorator compiles ``__eq__``, ``__hash__`` and ``__repr__`` afresh
for every class; the API's and the model's many classes are imported by every
CLI run, and those compiles were a good part of a `stack ps`. A class declared
``@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)`` on
``Value`` behaves as the generated methods would: fields compared in order (those
with ``compare=True``), hashed like ``eq=True, frozen=True`` does (``hash=None``
follows ``compare``), shown as ``Name(field=value, ...)`` (those with ``repr=True``),
``NotImplemented`` against any other class.
"""

from __future__ import annotations

import dataclasses
import reprlib

_PLANS: dict[type, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}


def _plan(cls: type) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(compared, hashed, shown) field names of ``cls``, looked up once per class."""
    try:
        return _PLANS[cls]
    except KeyError:
        fields = dataclasses.fields(cls)
        plan = (tuple(f.name for f in fields if f.compare),
                tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)),
                tuple(f.name for f in fields if f.repr))
        _PLANS[cls] = plan
        return plan


class Value:
    __slots__ = ()  # (no annotations here: get_type_hints of the dataclasses would see them)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _plan(self.__class__)[0])

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _plan(self.__class__)[1]))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in _plan(self.__class__)[2])
        return f"{self.__class__.__qualname__}({shown})"
