"""Living beside Docker: let our bridges' traffic through iptables' FORWARD chain.

Docker loads br_netfilter (so frames crossing a bridge go through iptables)
and sets the iptables FORWARD policy to DROP: two containers on one of OUR
bridges then cannot talk, and nothing says why. When that situation is found
(bridge-nf-call-iptables is 1 and the FORWARD policy is DROP, or Docker's
DOCKER-USER chain exists) we insert accept rules for our bridge into
DOCKER-USER (where Docker wants users' rules) or else FORWARD, each tagged with
the comment ``stack:<bridge>`` so they can be found and removed with the
network. Filtering between our networks stays in our own nftables table (a drop
there is final whatever iptables accepts).

This is the only place that runs iptables; a host without it has nothing to fix.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from pathlib import Path

from runtime.errors import Failed

log = logging.getLogger(__name__)

BRIDGE_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
USER_CHAIN = "DOCKER-USER"


def _comment(bridge: str) -> str:
    return f"stack:{bridge}"


def _iptables(args: list[str], *, binary: str = "iptables") -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([binary, "-w", *args], capture_output=True, text=True,
                              check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Failed(f"{binary} {' '.join(args)} could not run: {exc}") from exc


def _rules(chain: str, *, binary: str) -> list[str] | None:
    """``iptables -S chain`` lines, or None when the chain does not exist."""
    proc = _iptables(["-t", "filter", "-S", chain], binary=binary)
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def _absent_nft_filter_table(binary: str) -> bool:
    """True when ``binary`` is iptables-nft and its filter table does not exist: then there
    is no rule to look at, and listing it would create it (a leftover of ours)."""
    version = _iptables(["-V"], binary=binary).stdout
    if "nf_tables" not in version:
        return False
    family = "ip6" if binary.startswith("ip6") else "ip"
    try:
        proc = subprocess.run(["nft", "list", "table", family, "filter"], capture_output=True,
                              text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode != 0


def needed(*, binary: str = "iptables") -> str | None:
    """The chain to put our accept rules in, or None when iptables blocks nothing of ours."""
    if shutil.which(binary) is None or _absent_nft_filter_table(binary):
        return None
    user_chain = _rules(USER_CHAIN, binary=binary)
    if user_chain is not None:
        return USER_CHAIN
    try:
        bridged = BRIDGE_NF_CALL.read_text().strip() == "1"
    except OSError:
        bridged = False
    forward = _rules("FORWARD", binary=binary) or []
    if "-P FORWARD DROP" in forward or "-P FORWARD REJECT" in forward:
        # Routed traffic (outbound, published ports) is blocked whatever br_netfilter says;
        # bridged traffic only when br_netfilter is on. Either way the fix is the same.
        log.info("iptables FORWARD policy is DROP (br_netfilter call-iptables=%s): "
                 "adding accept rules for stack bridges", bridged)
        return "FORWARD"
    return None


def allow(bridge: str, *, binary: str = "iptables") -> None:
    """Insert accept rules for ``bridge`` when the host needs them. Idempotent."""
    chain = needed(binary=binary)
    if chain is None:
        return
    remove(bridge, binary=binary)
    for direction in ("-o", "-i"):
        proc = _iptables(["-t", "filter", "-I", chain, "1", direction, bridge, "-m", "comment",
                          "--comment", _comment(bridge), "-j", "ACCEPT"], binary=binary)
        if proc.returncode != 0:
            raise Failed(f'bridge "{bridge}": iptables accept rule could not be added to '
                         f"{chain}: {proc.stderr.strip()}")
    log.info("bridge %s: accept rules added to iptables chain %s", bridge, chain)


def remove(bridge: str, *, binary: str = "iptables") -> None:
    """Delete every rule tagged for ``bridge`` from DOCKER-USER and FORWARD. Idempotent."""
    if shutil.which(binary) is None or _absent_nft_filter_table(binary):
        return
    tag = _comment(bridge)
    for chain in (USER_CHAIN, "FORWARD"):
        for line in _rules(chain, binary=binary) or []:
            words = shlex.split(line)
            if not words or words[0] != "-A" or tag not in words:
                continue
            proc = _iptables(["-t", "filter", "-D", *words[1:]], binary=binary)
            if proc.returncode != 0:
                log.warning("bridge %s: iptables rule %r could not be removed: %s",
                            bridge, line, proc.stderr.strip())
