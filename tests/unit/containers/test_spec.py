"""config.json generation: Docker's rules for args, env, capabilities, resources, security."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.api import ContainerConfig, ImageConfig, Mount, Resources, Ulimit
from runtime.containers import spec
from runtime.containers.users import ResolvedUser
from runtime.errors import InvalidArgument

IMAGE = ImageConfig(entrypoint=("/entry",), cmd=("default", "arg"), env=("PATH=/img/bin", "A=1"),
                    working_dir="/srv")


def _cfg(**kwargs: object) -> ContainerConfig:
    return ContainerConfig(name="t", image="i", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "image", "expected"), [
    ({}, IMAGE, ["/entry", "default", "arg"]),
    ({"command": ("x",)}, IMAGE, ["/entry", "x"]),
    ({"entrypoint": ("/other",)}, IMAGE, ["/other"]),  # entrypoint override drops CMD
    ({"entrypoint": ("/other",), "command": ("y",)}, IMAGE, ["/other", "y"]),
    ({"entrypoint": ()}, ImageConfig(entrypoint=("/e",), cmd=("c",)), None),  # both reset
    ({}, ImageConfig(cmd=("sh",)), ["sh"]),
])
def test_process_args_follow_docker(kwargs: dict[str, object], image: ImageConfig,
                                    expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(InvalidArgument, match="no command specified"):
            spec.process_args(_cfg(**kwargs), image)
    else:
        assert spec.process_args(_cfg(**kwargs), image) == expected


def test_env_layers_image_then_config_with_defaults() -> None:
    env = spec.process_env(_cfg(env={"A": "2", "B": "3"}, tty=True), IMAGE, hostname="h",
                           home="/root")
    assert env == ["PATH=/img/bin", "HOSTNAME=h", "A=2", "B=3", "HOME=/root", "TERM=xterm"]


def test_capabilities_default_drop_add_all_privileged() -> None:
    assert len(spec.capabilities(_cfg())) == 14
    assert spec.capabilities(_cfg(cap_drop=("ALL",), cap_add=("net_admin",))) == ["CAP_NET_ADMIN"]
    assert "CAP_CHOWN" not in spec.capabilities(_cfg(cap_drop=("CHOWN",)))
    assert spec.capabilities(_cfg(cap_add=("ALL",))) == list(spec.ALL_CAPABILITIES)
    assert spec.capabilities(_cfg(privileged=True)) == list(spec.ALL_CAPABILITIES)
    with pytest.raises(InvalidArgument, match='unknown capability "CAP_FLY"'):
        spec.capabilities(_cfg(cap_add=("FLY",)))


def test_resources_map_to_cgroup_settings() -> None:
    r = spec.resources(_cfg(resources=Resources(memory=64 << 20, cpus=1.5, pids_limit=10,
                                                cpu_shares=512, cpuset_cpus="0")),
                       has_swap_accounting=True)
    assert r["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert r["cpu"] == {"quota": 150_000, "period": 100_000, "shares": 512, "cpus": "0"}
    assert r["pids"] == {"limit": 10}
    assert r["devices"] == [{"allow": False, "access": "rwm"}]


def _build(config: ContainerConfig, network: str = "new") -> dict[str, object]:
    return spec.build_spec(config=config, image=IMAGE, rootfs=Path("/r"),
                           user=ResolvedUser(uid=1, gid=2, additional_gids=(3,)),
                           namespaces=spec.Namespaces(network=network, hostname="h"),
                           mounts=[spec.OciMount(destination="/a/b", type="bind", source="/x"),
                                   spec.OciMount(destination="/a", type="bind", source="/y")],
                           cgroups_path="/stack/x", init_binary=Path("/usr/bin/tini-static"),
                           has_swap_accounting=False)


def test_whole_spec_security_defaults_and_order() -> None:
    doc = _build(_cfg(init=True, read_only=True, ulimits=(Ulimit(name="nofile", soft=1, hard=2),),
                      security_opt=("no-new-privileges",), shm_size=1 << 20))
    process = doc["process"]
    assert isinstance(process, dict)
    assert process["args"][:2] == ["/sbin/docker-init", "--"]
    assert process["user"] == {"uid": 1, "gid": 2, "additionalGids": [3]}
    assert process["cwd"] == "/srv" and process["noNewPrivileges"] is True
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}]
    assert doc["root"] == {"path": "/r", "readonly": True}
    linux = doc["linux"]
    assert isinstance(linux, dict)
    assert {"type": "network"} in linux["namespaces"]
    assert "/proc/kcore" in linux["maskedPaths"] and "/proc/sys" in linux["readonlyPaths"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    mounts = [m["destination"] for m in doc["mounts"]]  # type: ignore[attr-defined, index]
    assert mounts.index("/a") < mounts.index("/a/b")
    shm = next(m for m in doc["mounts"] if m["destination"] == "/dev/shm")  # type: ignore[attr-defined, index]
    assert f"size={1 << 20}" in shm["options"]


def test_network_namespace_entries() -> None:
    host = _build(_cfg(), network="host")["linux"]
    joined = _build(_cfg(), network="/run/netns/x")["linux"]
    assert all(n["type"] != "network" for n in host["namespaces"])  # type: ignore[index]
    assert {"type": "network", "path": "/run/netns/x"} in joined["namespaces"]  # type: ignore[index]


def test_privileged_has_no_seccomp_or_masks() -> None:
    linux = _build(_cfg(privileged=True))["linux"]
    assert isinstance(linux, dict)
    assert "seccomp" not in linux and "maskedPaths" not in linux
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_seccomp_follows_capabilities() -> None:
    from runtime.containers.seccomp import default_profile

    def denied(caps: list[str]) -> set[str]:
        return {n for rule in default_profile(caps)["syscalls"] for n in rule["names"]}

    base = denied(list(spec.DEFAULT_CAPABILITIES))
    assert {"mount", "reboot", "kexec_load", "bpf", "unshare", "clone", "keyctl"} <= base
    admin = denied([*spec.DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    assert "mount" not in admin and "clone" not in admin and "kexec_load" in admin


def test_mount_short_syntax_is_not_required_here() -> None:
    # Mounts arrive already resolved; spec only orders them (pure function, no I/O).
    assert _cfg(mounts=(Mount(type="tmpfs", target="/t"),)).mounts[0].target == "/t"
