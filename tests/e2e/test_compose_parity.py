"""What a container sees under `stack up`, asserted as Docker Compose v2 behaves.

Each expectation was established by running the same file under `docker compose`
(Compose 2.40, Docker Engine) side by side; the tests themselves need no Docker.
One project for the e2e part keeps the runtime down; the pure parts are unit-sized.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator import convert
from orchestrator import model as m
from runtime.api import ContainerConfig
from runtime.containers import spec
from tests.e2e.conftest import StackCli

PARITY = """
services:
  web:
    image: busybox:latest
    hostname: webhost
    domainname: example.internal
    user: "1000:1000"
    # a non-root process on a port below 1024, as images like nginx-unprivileged do
    command: ["httpd", "-f", "-p", "80", "-h", "/"]
    extra_hosts: ["db.local:10.1.2.3"]
    secrets:
      - db_password
      - source: api_key
        target: custom_key
    configs:
      - app_config
      - source: app_config
        target: /etc/app/other.conf
  sidecar:
    image: busybox:latest
    command: ["sleep", "3600"]
    network_mode: service:web
  client:
    image: busybox:latest
    command: ["sleep", "3600"]
secrets:
  db_password: {file: ./secrets/db_password.txt}
  api_key: {file: ./secrets/api_key.txt}
configs:
  app_config: {file: ./app.conf}
"""


def _sh(stack_cli: StackCli, project: tuple[str, ...], service: str, script: str) -> str:
    return stack_cli.run(*project, "exec", "-T", service, "sh", "-c", script).stdout


def test_secrets_configs_network_sharing_and_unprivileged_defaults(stack_cli: StackCli) -> None:
    (stack_cli.cwd / "secrets").mkdir()
    (stack_cli.cwd / "secrets/db_password.txt").write_text("s3cret")
    (stack_cli.cwd / "secrets/api_key.txt").write_text("apikey123\n")
    (stack_cli.cwd / "app.conf").write_text("key=value\n")
    project = stack_cli.project("parity", PARITY)
    stack_cli.run(*project, "up", "-d")

    # secrets at /run/secrets/<name> (a relative target under it), configs at /<name>
    # or their target; all read-only file binds
    out = _sh(stack_cli, project, "web",
              "cat /run/secrets/db_password; echo; cat /run/secrets/custom_key /app_config "
              "/etc/app/other.conf; echo x > /run/secrets/db_password 2>/dev/null || echo ro")
    assert out == "s3cret\napikey123\nkey=value\nkey=value\nro\n"

    # Docker sets these in every container with a network namespace of its own; a
    # non-root httpd on :80 is running only thanks to the first, and `id` lists the
    # primary group as a supplementary one
    out = _sh(stack_cli, project, "web",
              "cat /proc/sys/net/ipv4/ip_unprivileged_port_start "
              "/proc/sys/net/ipv4/ping_group_range; id; "
              "printf 'GET /etc/hostname HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80 | tail -1")
    assert out.split() == ["0", "0", "2147483647", "uid=1000", "gid=1000", "groups=1000", "webhost"]

    # network_mode service:web: the sidecar is web as far as names go (Docker shares
    # the hostname and the very /etc/hosts and /etc/resolv.conf files), so it resolves
    # the project's services through the embedded DNS
    web = _sh(stack_cli, project, "web", "hostname; cat /etc/hosts /etc/resolv.conf")
    side = _sh(stack_cli, project, "sidecar",
               "hostname; cat /etc/hosts /etc/resolv.conf; echo $HOSTNAME")
    assert side == web + "webhost\n"
    assert "10.1.2.3\tdb.local" in side
    lookup = _sh(stack_cli, project, "sidecar", "nslookup client. 2>&1 || true")
    client_ip = _sh(stack_cli, project, "client", "ip -4 -o addr show eth0").split()[3]
    assert f"Address: {client_ip.split('/')[0]}" in lookup


def test_file_secret_and_config_targets_follow_compose() -> None:
    """Pure: the mounts convert makes (relative targets, read-only; uid/gid/mode only for
    copied-in sources: a file's are ignored, as Compose does)."""
    stack = m.Stack(
        name="p", project_directory=Path("/p"),
        secrets={"s": m.FileObject(key="s", name="p_s", file="/p/s.txt"),
                 "env": m.FileObject(key="env", name="p_env", environment="TOKEN")},
        configs={"c": m.FileObject(key="c", name="p_c", file="/p/c.conf")},
        services={"web": m.Service(
            name="web", image="busybox",
            secrets=(m.FileReference(source="s", target="/run/secrets/s"),
                     m.FileReference(source="s", target="renamed", mode=0o400),
                     m.FileReference(source="env", target="/run/secrets/env")),
            configs=(m.FileReference(source="c", target="/c"),
                     m.FileReference(source="c", target="etc/c.conf")))},
    )
    got = [(x.type, x.source, x.target, x.read_only, x.create_host_path, x.file_mode)
           for x in convert.mounts(stack, stack.services["web"], environ={"TOKEN": "t"})]
    assert got == [("bind", "/p/s.txt", "/run/secrets/s", True, False, None),
                   ("bind", "/p/s.txt", "/run/secrets/renamed", True, False, None),
                   ("file", "", "/run/secrets/env", True, True, None),
                   ("bind", "/p/c.conf", "/c", True, False, None),
                   ("bind", "/p/c.conf", "/etc/c.conf", True, False, None)]


def test_network_sysctl_defaults_only_in_an_own_namespace() -> None:
    def sysctls(**kw: object) -> dict[str, str]:
        return spec.sysctls(ContainerConfig(name="c", image="busybox", **kw))  # type: ignore[arg-type]

    assert sysctls() == {"net.ipv4.ip_unprivileged_port_start": "0",
                         "net.ipv4.ping_group_range": "0 2147483647"}
    assert sysctls(network_mode="none") == sysctls()
    assert sysctls(network_mode="host") == {}
    assert sysctls(network_mode="container:web") == {}
    # the user's own value wins
    assert sysctls(sysctls={"net.ipv4.ip_unprivileged_port_start": "1024"})[
        "net.ipv4.ip_unprivileged_port_start"] == "1024"


COPIED = """
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
    secrets:
      - token
      - {source: token, target: private, uid: "1000", mode: 0400}
    configs:
      - {source: settings, target: etc/app.conf}
secrets:
  token: {environment: APP_TOKEN}
configs:
  settings:
    content: |
      greeting=${GREETING:-hello}
"""


def test_secret_from_environment_and_config_from_content(stack_cli: StackCli) -> None:
    """Compose copies these in (root, 0444 unless ``mode``); a change of the variable or
    the content recreates the service. The values travel in the API, not as paths."""
    project = stack_cli.project("copied", COPIED)
    stack_cli.run(*project, "up", "-d", env={"APP_TOKEN": "t0ken"})
    script = ("cat /run/secrets/token; echo; cat /etc/app.conf; "
              "stat -c '%a %u' /run/secrets/token /run/secrets/private /etc/app.conf; "
              "echo x > /run/secrets/token 2>/dev/null || echo ro; "
              "echo x > /etc/app.conf 2>/dev/null || echo ro")
    out = _sh(stack_cli, project, "app", script)
    assert out == "t0ken\ngreeting=hello\n444 0\n400 1000\n444 0\nro\nro\n"
    first = stack_cli.run(*project, "ps", "-q").stdout.split()
    assert len(first) == 1

    # unchanged: the container stays
    stack_cli.run(*project, "up", "-d", env={"APP_TOKEN": "t0ken"})
    assert stack_cli.run(*project, "ps", "-q").stdout.split() == first

    # new values: the service is recreated and sees them
    stack_cli.run(*project, "up", "-d", env={"APP_TOKEN": "n3w", "GREETING": "hi"})
    assert stack_cli.run(*project, "ps", "-q").stdout.split() != first
    out = _sh(stack_cli, project, "app", "cat /run/secrets/token; echo; cat /etc/app.conf")
    assert out == "n3w\ngreeting=hi\n"

    # the variable unset: a message naming the service and the secret, no traceback
    failed = stack_cli.run(*project, "up", "-d", "--force-recreate", check=False)
    assert failed.returncode != 0
    assert ('service "app": secret "token": environment variable "APP_TOKEN" is not set'
            in failed.stderr)
    assert "Traceback" not in failed.stderr
