"""The STATUS column of `stack ps` and `stack container ls` (one function for both), its
restart back-off (Docker: ``Restarting (1) 3 seconds ago``) and its durations."""

from __future__ import annotations

import time

from orchestrator.cli.status import ago, status_text
from runtime import api


def _info(state: api.ContainerState) -> api.ContainerInfo:
    config = api.ContainerConfig(name="web", image="busybox",
                                 restart=api.RestartPolicy(name="on-failure"))
    return api.ContainerInfo(id="c" * 64, name="web", image="busybox",
                             image_id="sha256:" + "0" * 64, config=config, state=state, pid=None,
                             exit_code=1, created_at=1.0, started_at=time.time() - 10,
                             finished_at=time.time() - 3)


def test_restarting_shows_the_exit_code_and_when() -> None:
    info = _info(api.ContainerState.RESTARTING)
    assert status_text(info) == "Restarting (1) 3 seconds ago"


def test_exited_reads_as_before() -> None:
    info = _info(api.ContainerState.EXITED)
    assert status_text(info) == "Exited (1) 3 seconds ago"


def test_durations_read_as_docker_words_them() -> None:
    assert [ago(s) for s in (0.2, 1, 59, 61, 600, 7200, 3 * 86400)] == [
        "Less than a second", "1 second", "59 seconds", "About a minute", "10 minutes",
        "2 hours", "3 days"]
