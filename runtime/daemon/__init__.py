"""stackd: the engine behind a REST API, plus supervision.

Server side (imports aiohttp):
    main          the ``stackd`` entry point: options, refusal of plain TCP
    lifecycle     pid lock, listeners (unix socket 0660 / TLS TCP), orderly end
    server        the route table served over aiohttp; JSON-lines streams
    service       what is served: LocalEngine + system views + supervisor hooks
    supervisor    restart policies (with supervision_store: what survives a restart)
    health        healthchecks by exec (and which containers DNS leaves out)
    reaper        exits recorded within a tick (conmon's exit files), --rm honoured
    exec_stream   exec with streamed output (an extension of the Engine API)
    system        info, version, disk usage, prune (also used in-process by the CLI)
    unit          the systemd unit
    openapi       schemas/openapi.json from the route table (``--write`` refreshes it)

Client side (the standard library only; what the CLI imports):
    client        HttpEngine: runtime.api.Engine over HTTP, errors mapped back
    connection    HTTP/1.1 keep-alive connections (unix socket, TLS TCP), pooled
    autostart     connect to the local socket, starting stackd when nobody answers
    routes, codec the shared contract: one route table, typed values <-> JSON
    tls           addresses and TLS contexts
"""
