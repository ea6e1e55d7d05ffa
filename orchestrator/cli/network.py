"""`stack network ...`: list, create, remove, inspect, prune, connect, disconnect.

Each command asks the engine (orchestrator.cli.engine.get_engine) and renders
through orchestrator.cli.render; runtime is imported lazily.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli import render
from orchestrator.cli.engine import get_engine

if TYPE_CHECKING:
    from runtime.api import NetworkInfo

app = typer.Typer(help="Manage networks: bridges with their own subnet, DNS and NAT.",
                  no_args_is_help=True, rich_markup_mode=None)

DEFAULT_NETWORK = "bridge"  # made by the engine on first use; never pruned


def info_json(info: NetworkInfo) -> dict[str, Any]:
    data = dataclasses.asdict(info)
    data["labels"] = dict(info.labels)
    return data


def _key_values(items: list[str] | None, *, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not key or (what == "option" and not sep):
            raise typer.BadParameter(f'{what} "{item}" is not KEY=VALUE')
        out[key] = value
    return out


@app.command("ls", help="List networks.")
def ls(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only network ids.")] = False,
    label: Annotated[list[str] | None, typer.Option(
        "--label", "-l", help="Only networks with this label (KEY or KEY=VALUE).",
        show_default=False)] = None,
) -> None:
    networks = get_engine(ctx).network_list(labels=_key_values(label, what="label") or None)
    if format == "json":
        render.json_out([info_json(n) for n in networks])
        return
    if quiet:
        for n in networks:
            render.line(n.id[:12])
        return
    render.table(["NETWORK ID", "NAME", "DRIVER", "SUBNET", "INTERNAL", "CONTAINERS"],
                 [[n.id[:12], n.name, n.driver, ", ".join(p.subnet for p in n.ipam),
                   "yes" if n.internal else "no", len(n.containers)] for n in networks])


@app.command("create", help="Create a network.")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Network name.", show_default=False)],
    subnet: Annotated[list[str] | None, typer.Option(
        "--subnet", help="Subnet in CIDR form (repeat for IPv4 and IPv6).",
        show_default=False)] = None,
    gateway: Annotated[list[str] | None, typer.Option(
        "--gateway", help="Gateway for the subnet of the same position.",
        show_default=False)] = None,
    ip_range: Annotated[list[str] | None, typer.Option(
        "--ip-range", help="Allocate container addresses from this sub-range.",
        show_default=False)] = None,
    internal: Annotated[bool, typer.Option("--internal", help="No outbound traffic.")] = False,
    ipv6: Annotated[bool, typer.Option("--ipv6", help="Enable IPv6.")] = False,
    label: Annotated[list[str] | None, typer.Option(
        "--label", help="Label KEY=VALUE.", show_default=False)] = None,
    opt: Annotated[list[str] | None, typer.Option(
        "-o", "--opt", help="Driver option KEY=VALUE (mtu=1400).", show_default=False)] = None,
) -> None:
    from runtime.api import IpamPool, NetworkConfig

    subnets, gateways, ranges = subnet or [], gateway or [], ip_range or []
    if len(gateways) > len(subnets) or len(ranges) > len(subnets):
        raise typer.BadParameter("each --gateway and --ip-range needs a --subnet")
    pools = tuple(IpamPool(subnet=s, gateway=gateways[i] if i < len(gateways) else None,
                           ip_range=ranges[i] if i < len(ranges) else None)
                  for i, s in enumerate(subnets))
    # "-o mtu=1400" stays an option: the engine checks it and names it in its error
    info = get_engine(ctx).network_create(NetworkConfig(
        name=name, internal=internal, enable_ipv6=ipv6, ipam=pools,
        labels=_key_values(label, what="label"), options=_key_values(opt, what="option")))
    render.line(info.id)


@app.command("rm", help="Remove one or more networks.")
def rm(
    ctx: typer.Context,
    networks: Annotated[list[str], typer.Argument(help="Names or ids.", show_default=False)],
) -> None:
    engine = get_engine(ctx)
    for ref in networks:
        engine.network_remove(ref)
        render.line(ref)


@app.command("inspect", help="Show networks in detail (JSON).")
def inspect(
    ctx: typer.Context,
    networks: Annotated[list[str], typer.Argument(help="Names or ids.", show_default=False)],
) -> None:
    engine = get_engine(ctx)
    render.json_out([info_json(engine.network_inspect(ref)) for ref in networks])


@app.command("prune", help="Remove every network no container is attached to.")
def prune(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not ask.")] = False,
) -> None:
    if not force and not typer.confirm("Remove all networks not used by a container?"):
        return
    engine = get_engine(ctx)
    removed = []
    for n in engine.network_list():
        if n.containers or n.name == DEFAULT_NETWORK:
            continue
        engine.network_remove(n.id)
        removed.append(n.name)
    if removed:
        render.line("Deleted networks:")
        for name in removed:
            render.line(name)


@app.command("connect", help="Connect a container to a network.")
def connect(
    ctx: typer.Context,
    network: Annotated[str, typer.Argument(help="Network name or id.", show_default=False)],
    container: Annotated[str, typer.Argument(help="Container name or id.", show_default=False)],
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", help="Extra DNS name on this network.", show_default=False)] = None,
    ip: Annotated[str | None, typer.Option("--ip", help="IPv4 address.",
                                           show_default=False)] = None,
    ip6: Annotated[str | None, typer.Option("--ip6", help="IPv6 address.",
                                            show_default=False)] = None,
) -> None:
    from runtime.api import EndpointConfig

    get_engine(ctx).network_connect(network, container, EndpointConfig(
        network=network, aliases=tuple(alias or ()), ipv4_address=ip, ipv6_address=ip6))


@app.command("disconnect", help="Disconnect a container from a network.")
def disconnect(
    ctx: typer.Context,
    network: Annotated[str, typer.Argument(help="Network name or id.", show_default=False)],
    container: Annotated[str, typer.Argument(help="Container name or id.", show_default=False)],
) -> None:
    get_engine(ctx).network_disconnect(network, container)

