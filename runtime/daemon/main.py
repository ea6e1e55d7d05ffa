"""The ``stackd`` entry point: options, refusal of unsafe listeners, then the daemon.

    stackd [-H unix:///run/stack/stackd.sock] [-H tcp://ADDR:PORT --tlscert C --tlskey K
           (--tlscacert CA | --token-file F)] [--group G] [--root DIR] [--run-dir DIR]

Runs in the foreground (systemd's Type=notify-less simple service, or detached
by the CLI's autostart). Exit codes: 0 after SIGTERM/SIGINT, 1 when it cannot
start (another stackd, a socket it cannot make), 2 for unusable options
(including plain TCP, which it refuses).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from runtime.config import EngineConfig
from runtime.daemon.tls import Address, TlsFiles, parse_address
from runtime.errors import EngineError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stackd", description="The stack engine daemon.")
    p.add_argument("-H", "--host", action="append", default=[],
                   help="listen here: unix:///path or tcp://ADDR:PORT (TLS only); repeatable. "
                   "Default: the run dir's stackd.sock")
    p.add_argument("--group", help="group allowed to use the unix socket (mode 0660)")
    p.add_argument("--tlscacert", type=Path, help="CA that client certificates must chain to")
    p.add_argument("--tlscert", type=Path, help="server certificate (PEM)")
    p.add_argument("--tlskey", type=Path, help="server key (PEM)")
    p.add_argument("--token-file", type=Path,
                   help="file holding a bearer token clients must send (over TLS)")
    p.add_argument("--root", type=Path, help="state root (env STACK_ROOT; /var/lib/stack)")
    p.add_argument("--run-dir", type=Path, help="run dir (env STACK_RUN_DIR; /run/stack)")
    p.add_argument("--address-pool", help="address pool for networks (env STACK_ADDRESS_POOL)")
    p.add_argument("--log-level", default=os.environ.get("STACKD_LOG_LEVEL", "info"),
                   choices=["debug", "info", "warning", "error"])
    p.add_argument("--no-supervise", action="store_true",
                   help="serve the API only: no restart policies, no healthchecks")
    return p


def check_listeners(addresses: list[Address], *, tls: TlsFiles, token_file: Path | None) -> None:
    """Refuse TCP without TLS, and TLS that would let any client in (``InvalidArgument``)."""
    from runtime.errors import InvalidArgument

    for address in addresses:
        if address.scheme != "tcp":
            continue
        if tls.cert is None or tls.key is None:
            raise InvalidArgument(
                f"refusing to listen on {address} without TLS: anyone who can reach the port "
                "could run privileged containers (root on this host). Give --tlscert and "
                "--tlskey, plus --tlscacert (client certificates) or --token-file")
        if tls.cacert is None and token_file is None:
            raise InvalidArgument(
                f"refusing to listen on {address} without client authentication: give "
                "--tlscacert to verify client certificates, or --token-file for a bearer token")


def run(argv: list[str] | None = None) -> None:
    """Console script ``stackd``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = EngineConfig.from_env()
    if args.root:
        config = replace(config, state_root=args.root.absolute())
    if args.run_dir:
        config = replace(config, run_dir=args.run_dir.absolute())
    if args.address_pool:
        config = replace(config, address_pool=args.address_pool)
    tls = TlsFiles(cacert=args.tlscacert, cert=args.tlscert, key=args.tlskey)
    try:
        addresses = [parse_address(h) for h in args.host] or [
            Address(scheme="unix", path=str(config.socket_path))]
        check_listeners(addresses, tls=tls, token_file=args.token_file)
        token = _read_token(args.token_file) if args.token_file else None
    except EngineError as exc:
        sys.stderr.write(f"stackd: {exc.message}\n")
        sys.exit(2)

    from runtime.daemon.lifecycle import Daemon, DaemonOptions

    options = DaemonOptions(addresses=tuple(addresses), tls=tls, token=token, group=args.group,
                            supervise=not args.no_supervise)
    try:
        Daemon(config, options).run()
    except EngineError as exc:
        sys.stderr.write(f"stackd: {exc.message}\n")
        sys.exit(1)


def _read_token(path: Path) -> str:
    from runtime.errors import InvalidArgument

    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise InvalidArgument(f"token file {path}: cannot read: {exc.strerror}") from exc
    if len(token) < 16:
        raise InvalidArgument(f"token file {path}: the token must be at least 16 characters")
    return token


if __name__ == "__main__":
    run()
