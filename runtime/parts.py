"""Seams between the engine's parts (interfaces apart from implementations).

``runtime.engine.LocalEngine`` composes one implementation of each: the image
store (runtime/images), the volume store (runtime/volumes) and the network
driver (runtime/network). The container part (runtime/containers) uses these
Protocols only, never the concrete classes, so each part can be tested alone
and the daemon can host the same objects.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from runtime.api import (
    EndpointConfig,
    EndpointInfo,
    ImageInfo,
    NetworkConfig,
    NetworkInfo,
    PortBinding,
    ProgressFn,
    VolumeConfig,
    VolumeInfo,
)


class ImageStore(Protocol):
    def get(self, ref: str) -> ImageInfo:
        """Look up a local image by reference, id or id prefix; ``NotFound`` if absent."""
        ...

    def pull(self, ref: str, *, progress: ProgressFn | None = None) -> ImageInfo: ...

    def layer_dirs(self, image_id: str) -> list[Path]:
        """Unpacked layer directories, LOWEST first, ready to be overlayfs lowerdirs."""
        ...

    def list(self) -> list[ImageInfo]: ...


class VolumeStore(Protocol):
    def create(self, config: VolumeConfig) -> VolumeInfo:
        """Idempotent for an equal config; ``AlreadyExists`` is never raised for the same name."""
        ...

    def get(self, name: str) -> VolumeInfo: ...
    def remove(self, name: str) -> None: ...
    def list(self, *, labels: Mapping[str, str] | None = None) -> list[VolumeInfo]: ...
    def data_dir(self, name: str) -> Path:
        """Host directory bound into containers."""
        ...


class NetworkDriver(Protocol):
    """Bridges, namespaces, addresses, NAT and published ports, and DNS registration."""

    def create(self, config: NetworkConfig) -> NetworkInfo: ...
    def remove(self, ref: str) -> None: ...
    def get(self, ref: str) -> NetworkInfo: ...
    def list(self, *, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]: ...

    def default_network(self) -> NetworkInfo:
        """The engine's default network ("bridge"), made on first use; containers with
        network_mode "bridge" and no networks join it."""
        ...

    def sandbox_create(self, container_id: str) -> Path:
        """Make the container's network namespace (lo up); return its bind-mounted path."""
        ...

    def sandbox_remove(self, container_id: str) -> None:
        """Detach everything and delete the namespace. Idempotent."""
        ...

    def attach(self, container_id: str, endpoint: EndpointConfig, *, names: Sequence[str],
               interface: str) -> EndpointInfo:
        """veth into the sandbox as ``interface``, address, routes, DNS names (``names``+aliases)."""
        ...

    def detach(self, container_id: str, network: str) -> None: ...

    def publish(self, container_id: str, ports: Sequence[PortBinding],
                endpoints: Sequence[EndpointInfo]) -> builtins.list[PortBinding]:
        """DNAT host ports to the container; returns the bindings with host ports chosen."""
        ...

    def unpublish(self, container_id: str) -> None: ...

    def resolv_conf(self, endpoints: Sequence[EndpointInfo], *, dns: Sequence[str],
                    dns_search: Sequence[str], dns_opt: Sequence[str]) -> str:
        """Content of the container's /etc/resolv.conf (the network's embedded DNS first)."""
        ...
