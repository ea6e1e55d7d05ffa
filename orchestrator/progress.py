"""Progress reports from apply and down to whoever shows them (the CLI's renderer).

A report is a value; the executor calls the reporter from worker threads, so
a reporter must be thread-safe. Statuses follow Compose's words (Creating,
Created, Starting, Started, Waiting, Healthy, Running, Recreated, Stopping,
Stopped, Removing, Removed, Pulling, Pulled, Error).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Phase(enum.StrEnum):
    WORKING = "working"
    DONE = "done"
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressEvent:
    kind: str  # "Network" | "Volume" | "Image" | "Container"
    name: str
    status: str
    phase: Phase
    detail: str = ""


Reporter = Callable[[ProgressEvent], None]


def ignore(_: ProgressEvent) -> None:
    """A reporter that shows nothing (tests, --quiet)."""
