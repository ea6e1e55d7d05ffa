"""Exec output streamed as it happens, through a real stackd."""

from __future__ import annotations

import time

import pytest

from runtime.api import ContainerConfig, ImageInfo
from runtime.errors import FailedPrecondition, NotFound
from tests.integration.daemon.stackd_harness import StackdProcess

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


def test_output_arrives_before_the_command_ends(busybox_image: ImageInfo,
                                                stackd: StackdProcess) -> None:
    client = stackd.client
    client.container_create(ContainerConfig(name="ex", image="busybox:latest",
                                            command=("sleep", "60"), network_mode="none"))
    client.container_start("ex")
    began = time.monotonic()
    chunks = client.container_exec_stream(
        "ex", ["sh", "-c", "cat; sleep 3; echo late >&2; exit 3"], stdin=b"early\n")
    first = next(chunks)
    assert (first.stream, first.data) == ("stdout", b"early\n")
    assert time.monotonic() - began < 2.8  # it came while the command still slept
    rest = list(chunks)
    assert [(c.stream, c.data) for c in rest[:-1]] == [("stderr", b"late\n")]
    assert (rest[-1].stream, rest[-1].exit_code) == ("exit", 3)

    missing = list(client.container_exec_stream("ex", ["no-such-program"]))
    assert missing[-1].exit_code == 127

    client.container_stop("ex", timeout=1)
    with pytest.raises(FailedPrecondition, match="is not running"):
        client.container_exec_stream("ex", ["true"])
    with pytest.raises(NotFound):
        client.container_exec_stream("ghost", ["true"])


def test_followed_logs_and_events_arrive_live(busybox_image: ImageInfo,
                                              stackd: StackdProcess) -> None:
    client = stackd.client
    events = client.events(filters={"container": "talker"})  # follows: no until
    client.container_create(ContainerConfig(
        name="talker", image="busybox:latest", network_mode="none",
        command=("sh", "-c", "echo one; sleep 3; echo two; sleep 0.5")))
    assert next(events).action == "create"
    client.container_start("talker")
    assert next(events).action == "start"
    began = time.monotonic()
    logs = client.container_logs("talker", follow=True)
    assert next(logs).data == b"one"
    assert time.monotonic() - began < 2.8  # before "two" was even printed
    assert [e.data for e in logs] == [b"two"]  # ends when the container does
    assert next(events).action == "die"
    events.close()  # type: ignore[attr-defined]  # the client leaves: the server's stream ends
