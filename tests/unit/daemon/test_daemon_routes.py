"""The route table covers the whole API, and each route's shape follows its method."""

from __future__ import annotations

import inspect

from runtime import api
from runtime.daemon.client import HttpEngine
from runtime.daemon.routes import BY_NAME, ROUTES, served_protocols


def _methods(protocol: type) -> set[str]:
    return {n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}


def test_every_engine_and_system_method_has_exactly_one_route() -> None:
    names = [r.name for r in ROUTES]
    assert len(names) == len(set(names))
    assert set(names) == set().union(*(_methods(p) for p in served_protocols()))
    assert {"container_exec_stream", "system_info"} <= set(names)
    assert _methods(api.Engine) <= set(names)


def test_the_client_implements_every_route_with_the_same_signature() -> None:
    for route in ROUTES:
        ours = inspect.signature(getattr(HttpEngine, route.name))
        theirs = inspect.signature(route.function)
        assert list(ours.parameters) == list(theirs.parameters), route.name
        for name, p in theirs.parameters.items():
            assert ours.parameters[name].kind == p.kind, (route.name, name)
            assert ours.parameters[name].default == p.default, (route.name, name)


def test_route_shapes() -> None:
    assert BY_NAME["container_logs"].stream == "items"
    assert BY_NAME["events"].stream == "items"
    assert BY_NAME["image_pull"].stream == "progress"
    assert BY_NAME["image_pull"].progress_type is api.PullProgress
    assert BY_NAME["container_inspect"].stream == "none"
    stop = {p.name: p.where for p in BY_NAME["container_stop"].params}
    assert stop == {"ref": "path", "signal": "body", "timeout": "body"}
    listing = {p.name: p.where for p in BY_NAME["container_list"].params}
    assert listing == {"all": "query", "labels": "query"}


def test_paths_are_unique_per_method() -> None:
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))


def test_the_client_side_imports_no_server_or_network_code() -> None:
    import subprocess
    import sys

    code = ("import sys, runtime.daemon.autostart, orchestrator.cli.system; "
            "print(sorted(m for m in ('aiohttp', 'pyroute2', 'runtime.engine') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
