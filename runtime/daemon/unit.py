"""stackd's systemd unit (packaging/stackd.service is this text for /usr/local/bin/stackd).

KillMode=process: stopping or restarting the service ends stackd only, never the
conmon monitors it started in its cgroup, so containers keep running (stackd
adopts them again when it comes back). Delegate=yes lets runc manage the
containers' cgroups below the service's.
"""

from __future__ import annotations

UNIT_NAME = "stackd.service"
DEFAULT_EXEC = "/usr/local/bin/stackd"

_TEMPLATE = """\
[Unit]
Description=stack engine daemon (stackd): containers, networks, supervision, API
After=network-online.target nftables.service
Wants=network-online.target

[Service]
Type=simple
ExecStart={exec_start}
Restart=on-failure
RestartSec=2
KillMode=process
Delegate=yes
LimitNOFILE=1048576
TasksMax=infinity
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
"""


def unit_text(*, exec_start: str = DEFAULT_EXEC) -> str:
    """The unit file for a stackd at ``exec_start`` (pure)."""
    return _TEMPLATE.format(exec_start=exec_start)
