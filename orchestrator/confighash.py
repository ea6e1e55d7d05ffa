"""A service's config hash: changes exactly when its containers must be recreated.

sha256 over canonical JSON (sorted keys, no spaces) of the service as
``serialize`` prints it, MINUS what never needs a new container: scale /
deploy.replicas (more or fewer containers), depends_on (start order),
profiles (selection) and build (the image is compared by the planner, by
digest). PLUS what the container sees but the model only names: the engine
names of its networks and volumes, and the content of its secret and config
sources (file bytes, inline content, environment value). env_file contents are
already merged into ``environment``. Equal across runs and key orders; bind
sources are absolute paths, so it is per machine, which is what it labels.

Reads secret/config files (the only I/O); a missing one hashes as missing,
so the error comes from whoever needs the file, not from hashing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from orchestrator import model as m
from orchestrator.serialize import service_to_dict

HASH_VERSION = "1"  # bump when the hashed shape changes on purpose


def service_hash(stack: m.Stack, name: str, *, environ: Mapping[str, str] | None = None) -> str:
    svc = stack.services[name]
    doc = service_to_dict(svc)
    for key in ("scale", "depends_on", "profiles", "build"):
        doc.pop(key, None)
    deploy = {k: v for k, v in doc.pop("deploy", {}).items() if k != "replicas"}
    if deploy:
        doc["deploy"] = deploy
    doc["_resources"] = {
        "networks": {k: stack.networks[k].name for k in svc.networks if k in stack.networks},
        "volumes": {
            v.source: stack.volumes[v.source].name
            for v in svc.volumes
            if v.type is m.MountType.VOLUME and v.source is not None and v.source in stack.volumes
        },
        "secrets": {
            r.source: _source_digest(stack.secrets.get(r.source), environ) for r in svc.secrets
        },
        "configs": {
            r.source: _source_digest(stack.configs.get(r.source), environ) for r in svc.configs
        },
    }
    doc["_version"] = HASH_VERSION
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stack_hashes(stack: m.Stack, *, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    return {name: service_hash(stack, name, environ=environ) for name in stack.services}


def _source_digest(obj: m.FileObject | None, environ: Mapping[str, str] | None) -> Any:
    if obj is None:
        return None
    if obj.external:
        return {"external": obj.name}
    h = hashlib.sha256()
    if obj.file is not None:
        try:
            with open(obj.file, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 16), b""):
                    h.update(chunk)
        except OSError:
            return {"file": obj.file, "missing": True}
        return {"file": obj.file, "sha256": h.hexdigest()}
    if obj.content is not None:
        h.update(obj.content.encode("utf-8"))
        return {"content": h.hexdigest()}
    if obj.environment is not None:
        value = (environ or {}).get(obj.environment)
        h.update((value or "").encode("utf-8"))
        return {"environment": obj.environment, "sha256": h.hexdigest(), "set": value is not None}
    return None
