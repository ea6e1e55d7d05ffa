"""Real responses of a real stackd validate against schemas/openapi.json.

Drives (almost) every route with raw HTTP over the unix socket and checks each
answer (status documented, body valid for that status; stream lines valid one by
one). Left out: routes that need a registry or a build (image_pull, image_push,
image_build, image_login, image_logout) and network_connect/disconnect (bridges).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from runtime.api import ImageInfo
from runtime.daemon.openapi import DOCUMENT_PATH
from tests.integration.daemon.stackd_harness import StackdProcess

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

NOT_DRIVEN = {"image_pull", "image_push", "image_build", "image_login", "image_logout",
              "network_connect", "network_disconnect"}


class Checker:
    def __init__(self, socket: Path) -> None:
        self.doc = json.loads(DOCUMENT_PATH.read_text())
        self.http = httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)),
                                 base_url="http://stackd", timeout=30)
        self.seen: set[str] = set()

    def _operation(self, method: str, path: str) -> dict[str, Any]:
        for template, ops in self.doc["paths"].items():
            pattern = "^" + re.sub(r"{\w+}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method.lower() in ops:
                return ops[method.lower()]  # type: ignore[no-any-return]
        raise AssertionError(f"{method} {path} is not documented")

    def _validate(self, schema: dict[str, Any], value: Any) -> None:
        jsonschema.Draft202012Validator(
            {**schema, "components": self.doc["components"]}).validate(value)

    def call(self, method: str, path: str, *, expect: int, **kwargs: Any) -> Any:
        op = self._operation(method, path)
        self.seen.add(op["operationId"])
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        documented = op["responses"].get(str(response.status_code))
        assert documented is not None, f"{method} {path}: {response.status_code} undocumented"
        if "$ref" in documented:
            documented = self.doc["components"]["responses"]["Error"]
        if response.status_code == 204:
            assert response.content == b""
            return None
        (media, content), = documented["content"].items()
        assert response.headers["content-type"].startswith(media)
        if media == "application/x-ndjson":
            lines = [json.loads(x) for x in response.text.splitlines() if x.strip()]
            for line in lines:
                self._validate(content["schema"], line)
            return lines
        if media == "text/plain":
            return response.text
        body = response.json()
        self._validate(content["schema"], body)
        return body


def test_responses_match_the_document(busybox_image: ImageInfo, busybox_tar: Path,
                                      stackd: StackdProcess) -> None:
    c = Checker(stackd.config.socket_path)
    t0 = time.time()
    c.call("GET", "/_ping", expect=200)
    c.call("GET", "/version", expect=200)
    c.call("GET", "/images", expect=200, params={"labels": ["a=b"]})
    c.call("GET", "/image", expect=200, params={"ref": "busybox:latest"})
    c.call("GET", "/image/history", expect=200, params={"ref": "busybox:latest"})
    c.call("GET", "/image", expect=404, params={"ref": "nothing:here"})
    c.call("POST", "/images/tag", expect=204, json={"source": "busybox:latest",
                                                      "target": "bb:copy"})
    archive = stackd.tmp / "bb.tar"
    c.call("POST", "/images/save", expect=204, json={"refs": ["bb:copy"], "dest": str(archive)})
    c.call("DELETE", "/image", expect=200, params={"ref": "bb:copy"})
    c.call("POST", "/images/load", expect=200, json={"path": str(archive)})
    c.call("POST", "/images/import", expect=200, json={"path": str(busybox_tar),
                                                         "ref": "bb:imported"})
    c.call("POST", "/images/prune", expect=200, json={})

    c.call("POST", "/volumes", expect=200, json={"config": {"name": "data"}})
    c.call("GET", "/volumes", expect=200)
    c.call("GET", "/volumes/data", expect=200)
    c.call("POST", "/containers", expect=400, json={"config": {"name": "x"}})
    config = {"name": "web", "image": "busybox:latest", "network_mode": "none",
              "command": ["sh", "-c", "echo hello; sleep 60"],
              "mounts": [{"type": "volume", "source": "data", "target": "/data"}]}
    created = c.call("POST", "/containers", expect=200, json={"config": config})
    assert created["state"] == "created"
    c.call("POST", "/containers/web/start", expect=204)
    c.call("GET", "/containers", expect=200, params={"all": "true"})
    c.call("GET", "/containers/web", expect=200)
    c.call("GET", "/containers/nope", expect=404)
    c.call("DELETE", "/volumes/data", expect=409)
    out = c.call("POST", "/containers/web/exec", expect=200,
                 json={"cmd": ["sh", "-c", "cat; echo err >&2"], "stdin": "aGk="})
    assert out["stdout"] == "aGk=" and out["exit_code"] == 0
    lines = c.call("POST", "/containers/web/exec/stream", expect=200,
                   json={"cmd": ["sh", "-c", "echo out; exit 7"]})
    assert lines[-1] == {"stream": "exit", "data": "", "exit_code": 7}
    # The attach routes' 101 and WebSocket are driven in test_daemon_exec_attach.py and
    # test_daemon_attach.py; here: a plain GET is refused with a documented error, before
    # any command runs or any session opens.
    c.call("GET", "/containers/web/exec/attach", expect=400, params={"cmd": "true"})
    c.call("GET", "/containers/web/attach", expect=400, params={"stdin": "true"})
    c.call("GET", "/containers/web/top", expect=200)
    c.call("GET", "/containers/web/stats", expect=200)
    c.call("POST", "/containers/web/pause", expect=204)
    c.call("POST", "/containers/web/unpause", expect=204)
    c.call("POST", "/containers/web/kill", expect=204, json={"signal": "USR1"})
    c.call("POST", "/containers/web/restart", expect=204, json={"timeout": 1})
    c.call("GET", "/containers/web/logs", expect=200, params={"tail": "1"})
    c.call("POST", "/containers/web/stop", expect=204, json={"timeout": 1})
    c.call("POST", "/containers/web/wait", expect=200, json={"timeout": 5})
    c.call("DELETE", "/containers/web", expect=204, params={"force": "true"})

    net = c.call("POST", "/networks", expect=200, json={"config": {"name": "fz-net"}})
    c.call("GET", "/networks", expect=200)
    c.call("GET", f"/networks/{net['id']}", expect=200)
    c.call("DELETE", "/networks/fz-net", expect=204)
    c.call("DELETE", "/volumes/data", expect=204)

    c.call("GET", "/info", expect=200)
    c.call("GET", "/system/df", expect=200)
    c.call("POST", "/system/prune", expect=200, json={"all": True, "volumes": True})
    events = c.call("GET", "/events", expect=200, params={"since": repr(t0),
                                                          "until": repr(time.time())})
    assert {"create", "start", "die", "destroy"} <= {e["action"] for e in events}

    documented = {op["operationId"] for ops in c.doc["paths"].values() for op in ops.values()}
    assert documented - NOT_DRIVEN - c.seen == set()
