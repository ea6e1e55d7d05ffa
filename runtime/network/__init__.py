"""The network part: bridges, container namespaces, IPAM, nftables and the embedded DNS.

The engine uses ``service.NetworkService`` (it is also the container part's
``runtime.parts.NetworkDriver``); the rest are its private parts:
``store`` (SQLite tables and records), ``ipam`` (subnets and leases), ``bridge``
(host links over netlink), ``sandbox`` (namespaces and veths), ``nft`` (our
nftables table), ``ports`` (choosing host ports), ``sysctl`` (forwarding and
route_localnet), ``dockercompat`` (iptables accept rules beside Docker),
``dns`` (resolver and server, hostable in any thread), ``dnsthread`` (the
resolver in a thread: stackd's), ``dnsd`` / ``dnsproc`` (the resolver as a
process of its own, for the in-process engine), ``dnslock`` (one resolver per
engine), ``resolvconf``.
"""
