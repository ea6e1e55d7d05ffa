"""The HTTP server and client round-trip every kind of route against a fake engine."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from daemon_fake_engine import IMAGE, FakeEngine, container

from runtime import api
from runtime.daemon.client import HttpEngine
from runtime.errors import Conflict, Failed, InvalidArgument, NotFound, Unavailable


def test_values_round_trip(serve: Any) -> None:
    fake = FakeEngine()
    client: HttpEngine = serve(fake)
    assert client.image_list(labels={"a": "1", "b": ""}) == [IMAGE]
    assert fake.calls[-1] == ("image_list", {"labels": {"a": "1", "b": ""}})
    assert client.image_inspect("busybox") == IMAGE
    config = container("db").config
    assert client.container_create(config) == container("db")
    assert fake.calls[-1] == ("container_create", {"config": config})
    assert client.container_inspect("web") == container()


def test_none_results_and_query_arguments(serve: Any) -> None:
    fake = FakeEngine()
    client: HttpEngine = serve(fake)
    client.container_stop("web", signal="TERM", timeout=2.5)
    assert fake.calls[-1] == ("container_stop", {"ref": "web", "signal": "TERM", "timeout": 2.5})
    client.container_remove("we b/x", force=True, volumes=True)
    assert fake.calls[-1] == ("container_remove", {"ref": "we b/x", "force": True,
                                                   "volumes": True})


def test_bytes_round_trip_through_exec(serve: Any) -> None:
    client: HttpEngine = serve(FakeEngine())
    result = client.container_exec("web", ["cat"], env={"X": "1"}, stdin=b"\x00\x01hi")
    assert result == api.ExecResult(exit_code=3, stdout=b"\x00\x01hi", stderr=b"\xff")


def test_errors_map_back_to_their_category(serve: Any) -> None:
    client: HttpEngine = serve(FakeEngine())
    with pytest.raises(NotFound, match='container "nope" not found'):
        client.container_inspect("nope")
    with pytest.raises(Conflict, match="is running"):
        client.container_remove("web")
    with pytest.raises(Failed, match="internal error: RuntimeError: boom"):
        client.container_wait("web")
    with pytest.raises(NotFound, match="not served"):
        client.volume_list()  # the fake has no volumes
    assert client.image_inspect("busybox") == IMAGE  # still serving


def test_item_stream_and_errors_before_and_after_the_first_line(serve: Any) -> None:
    client: HttpEngine = serve(FakeEngine())
    entries = list(client.container_logs("web"))
    assert [e.data for e in entries] == [b"line\x00\xff0", b"line\x00\xff1", b"line\x00\xff2"]
    with pytest.raises(NotFound):
        client.container_logs("nope")  # raised at the call, with its status
    stream = client.container_logs("web", follow=True)
    assert next(stream).data == b"line\x00\xff0"
    with pytest.raises(Conflict, match="log file vanished"):
        list(stream)  # in-band error after the headers


def test_progress_stream(serve: Any) -> None:
    client: HttpEngine = serve(FakeEngine())
    seen: list[api.PullProgress] = []
    assert client.image_pull("busybox", progress=seen.append) == IMAGE
    assert [p.current for p in seen] == [0, 1, 2]
    with pytest.raises(NotFound, match="no such repository"):
        client.image_pull("missing")


def test_events_filters_travel_as_key_value_pairs(serve: Any) -> None:
    fake = FakeEngine()
    client: HttpEngine = serve(fake)
    events = list(client.events(since=1.0, until=2.0, filters={"label": "a=b", "type": "x"}))
    assert events[0].attributes == {"name": "web"}
    assert fake.calls[-1] == ("events", {"since": 1.0, "until": 2.0,
                                         "filters": {"label": "a=b", "type": "x"}})


def test_bad_requests_are_invalid_with_json_bodies(serve: Any) -> None:
    client: HttpEngine = serve(FakeEngine())
    with httpx.Client(transport=httpx.HTTPTransport(uds=client.address.path),
                      base_url="http://stackd") as http:  # another client, raw requests
        cases = [
            http.post("/containers", content=b"{not json"),
            http.post("/containers", json={"config": {"name": "x"}}),  # image missing
            http.post("/containers", json={"config": {"name": "x", "image": "i", "bogus": 1}}),
            http.get("/containers", params={"all": "maybe"}),
            http.get("/containers", params={"nope": "1"}),
            http.post("/containers/web/exec", json={"cmd": ["x"], "stdin": "!!"}),
        ]
        missing = http.get("/no/such/route")
    for response in cases:
        assert response.status_code == 400, response.text
        assert response.json()["category"] == "invalid"
    assert missing.status_code == 404 and missing.json()["category"] == "not_found"


def test_the_unix_socket_needs_no_bearer_token(serve: Any) -> None:
    # Its file mode guards it; TCP clients must show the token (tests/integration/daemon).
    client: HttpEngine = serve(FakeEngine(), token="s3cret", client_token=None)
    assert client.image_inspect("busybox") == IMAGE


def test_unreachable_daemon_is_unavailable(short_tmp: Any) -> None:
    with HttpEngine(f"unix://{short_tmp}/none.sock") as client:
        assert not client.ping()
        with pytest.raises(Unavailable, match="cannot connect"):
            client.image_list()


def test_invalid_argument_names_the_path() -> None:
    from runtime.daemon import codec

    with pytest.raises(InvalidArgument, match=r"\$\.mounts\[0\]\.type: 'nfs' is not one of"):
        codec.decode(api.ContainerConfig, {"name": "x", "image": "y",
                                           "mounts": [{"type": "nfs", "target": "/"}]})
