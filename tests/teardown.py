"""Taking down everything a test's engine made, whatever state the test left it in."""

from __future__ import annotations

from runtime.engine import LocalEngine
from runtime.network import nft


def take_down(engine: LocalEngine) -> list[str]:
    """Remove every container (with its anonymous volumes), network and volume of
    ``engine``, its DNS and its nftables table. Keeps going past errors and returns them,
    so that a caller can fail once all of it has run."""
    errors: list[str] = []
    if not engine.config.metadata_db.exists():  # never used: nothing to take down
        return errors
    for info in engine.container_list(all=True):
        try:
            engine.container_remove(info.id, force=True, volumes=True)
        except Exception as exc:  # every one must go: keep going
            errors.append(f"container {info.name}: {exc}")
    if (engine.config.run_dir / "network").exists():  # networks were made: unmake them
        for net in engine.network_list():
            try:
                engine.network_remove(net.id)
            except Exception as exc:
                errors.append(f"network {net.name}: {exc}")
        engine.networks.dns.stop()
    for vol in engine.volume_list():
        try:
            engine.volume_remove(vol.name, force=True)
        except Exception as exc:
            errors.append(f"volume {vol.name}: {exc}")
    nft.delete_table(engine.config.nft_table)  # gone with the last network, usually
    return errors
