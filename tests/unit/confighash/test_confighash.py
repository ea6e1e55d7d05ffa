"""Config hashes: stable, and changed exactly by what needs a new container."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from orchestrator import model as m
from orchestrator.confighash import service_hash, stack_hashes

LoadFn = Callable[..., m.Stack]

BASE = """\
services:
  web:
    image: nginx:1
    environment: {A: "1", B: "2"}
    ports: ["8080:80"]
    env_file: [app.env]
    secrets: [token]
    configs: [conf]
    volumes: ["data:/data"]
    depends_on: [db]
  db:
    image: pg
secrets:
  token: {file: ./token.txt}
configs:
  conf: {file: ./conf.ini}
volumes:
  data: {}
"""


def _files(tmp: Path) -> None:
    (tmp / "app.env").write_text("FROM_FILE=1\n")
    (tmp / "token.txt").write_text("t0ken\n")
    (tmp / "conf.ini").write_text("[a]\n")


def test_stable_and_independent_of_key_order(load: LoadFn, tmp_path: Path) -> None:
    _files(tmp_path)
    h1 = service_hash(load(BASE), "web")
    assert h1 == service_hash(load(BASE), "web")
    assert len(h1) == 64
    reordered = BASE.replace('environment: {A: "1", B: "2"}', 'environment: {B: "2", A: "1"}')
    assert service_hash(load(reordered), "web") == h1
    as_list = BASE.replace('environment: {A: "1", B: "2"}', "environment: [B=2, A=1]")
    assert service_hash(load(as_list), "web") == h1


def test_ignores_scale_depends_on_profiles_build(load: LoadFn, tmp_path: Path) -> None:
    _files(tmp_path)
    h1 = service_hash(load(BASE), "web")
    for extra in ("    scale: 3\n", "    deploy: {replicas: 3}\n", "    profiles: [x]\n",
                  "    build: ./web\n"):
        changed = BASE.replace("    depends_on: [db]\n", extra)
        assert service_hash(load(changed), "web") == h1, extra


def test_changes_with_what_the_container_sees(load: LoadFn, tmp_path: Path) -> None:
    _files(tmp_path)
    h1 = service_hash(load(BASE), "web")
    for old, new in (("nginx:1", "nginx:2"), ('"8080:80"', '"8081:80"'), ('A: "1"', 'A: "x"'),
                     ('["data:/data"]', '["data:/other"]')):
        assert service_hash(load(BASE.replace(old, new)), "web") != h1, new
    assert service_hash(load(BASE, name="other"), "web") != h1  # volume and network names


def test_changes_with_file_contents(load: LoadFn, tmp_path: Path) -> None:
    _files(tmp_path)
    h1 = service_hash(load(BASE), "web")
    (tmp_path / "app.env").write_text("FROM_FILE=2\n")
    h2 = service_hash(load(BASE), "web")
    assert h2 != h1
    (tmp_path / "token.txt").write_text("rotated\n")
    h3 = service_hash(load(BASE), "web")
    assert h3 != h2
    (tmp_path / "conf.ini").write_text("[b]\n")
    h4 = service_hash(load(BASE), "web")
    assert h4 != h3
    assert stack_hashes(load(BASE)) == {"db": service_hash(load(BASE), "db"), "web": h4}


def test_environment_secret_and_inline_config(load: LoadFn) -> None:
    text = ("services:\n  web: {image: x, secrets: [s], configs: [c]}\n"
            "secrets:\n  s: {environment: TOKEN}\nconfigs:\n  c: {content: hello}\n")
    stack = load(text)
    a = service_hash(stack, "web", environ={"TOKEN": "1"})
    assert a != service_hash(stack, "web", environ={"TOKEN": "2"})
    assert service_hash(load(text.replace("hello", "bye")), "web", environ={"TOKEN": "1"}) != a
