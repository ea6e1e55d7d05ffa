"""One fixed set of error categories for the whole engine (containerd style).

Call sites raise a category with a message that names the object, then the
problem: ``NotFound('container "web-1" not found')``. Wrap foreign exceptions
at the boundary with ``raise ... from exc``. The daemon maps categories to HTTP
status codes in ONE table (``HTTP_STATUS``) and the client maps them back.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine error; ``category`` is the wire name."""

    category = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    category = "not_found"


class AlreadyExists(EngineError):
    category = "already_exists"


class InvalidArgument(EngineError):
    category = "invalid"


class FailedPrecondition(EngineError):
    """The object is not in a state that allows the operation (e.g. removing a running container)."""

    category = "failed_precondition"


class Conflict(EngineError):
    """Another object holds what is asked for (a name, an address, a port, a volume in use)."""

    category = "conflict"


class Unavailable(EngineError):
    """Retry later: a registry, the daemon or a system program cannot be reached now."""

    category = "unavailable"


class Unauthorized(EngineError):
    category = "unauthorized"


class Failed(EngineError):
    """An operation failed for a reason that is none of the above (runc said no, a build step failed)."""

    category = "failed"


CATEGORIES: dict[str, type[EngineError]] = {
    cls.category: cls
    for cls in (NotFound, AlreadyExists, InvalidArgument, FailedPrecondition, Conflict,
                Unavailable, Unauthorized, Failed)
}

# The one table from category to HTTP status (used by stackd and its client).
HTTP_STATUS: dict[str, int] = {
    "not_found": 404,
    "already_exists": 409,
    "conflict": 409,
    "invalid": 400,
    "failed_precondition": 412,
    "unauthorized": 401,
    "unavailable": 503,
    "failed": 500,
}


def from_category(category: str, message: str) -> EngineError:
    """Rebuild an error from its wire form (unknown categories become ``Failed``)."""
    return CATEGORIES.get(category, Failed)(message)
