"""Where CLI commands get their engine: stackd's client, or in-process with STACK_ENGINE=local.

Order: ``-H``/``STACK_HOST`` (unix:///path or tcp://host:port with --tls*; never
autostarted) > ``STACK_ENGINE=local`` (a LocalEngine in this process) > the local
socket, starting ``stackd`` detached when it does not answer.

Kept tiny and lazy: importing this module imports nothing from runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from orchestrator.cli.options import GlobalOptions
    from runtime.daemon.client import HttpEngine
    from runtime.engine import LocalEngine


def get_engine(ctx: typer.Context) -> LocalEngine | HttpEngine:
    """The engine for this command, made once per invocation and closed when it ends."""
    from orchestrator.cli.options import GlobalOptions

    root = ctx.find_root()
    engine = root.meta.get("stack.engine")
    if engine is None:
        options = root.obj if isinstance(root.obj, GlobalOptions) else GlobalOptions()
        engine = _make_engine(options)
        root.meta["stack.engine"] = engine
        root.call_on_close(engine.close)
    return engine


def _make_engine(options: GlobalOptions) -> LocalEngine | HttpEngine:
    from runtime.config import EngineConfig

    environ = options.environ
    if options.host:
        from runtime.daemon.client import HttpEngine
        from runtime.daemon.tls import TlsFiles, parse_address

        token_file = environ.get("STACK_TOKEN_FILE")
        token = Path(token_file).read_text().strip() if token_file else None
        tls = TlsFiles(cacert=options.tlscacert, cert=options.tlscert, key=options.tlskey)
        return HttpEngine(parse_address(options.host), tls=tls, token=token)
    config = EngineConfig.from_env(environ)
    if environ.get("STACK_ENGINE", "").lower() == "local":
        from runtime.engine import LocalEngine

        return LocalEngine(config)
    from runtime.daemon.autostart import connect_local

    return connect_local(config)
