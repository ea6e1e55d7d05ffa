"""Our default seccomp profile: a deny-list that refuses what Docker's default refuses.

Docker ships an allow-list; we refuse the same dangerous calls from the other side
(default action ALLOW, the listed calls fail with EPERM). A call that a capability
legitimately unlocks is refused only when the container lacks that capability, as
Docker does (``cap_add: [SYS_ADMIN]`` makes ``mount`` work again). Privileged
containers get no profile at all.

Not covered (an allow-list would be needed): ``personality`` with unusual personas.
"""

from __future__ import annotations

import errno
import platform
from collections.abc import Iterable
from typing import Any

# Always refused: nothing a container should ever do to the shared kernel.
_ALWAYS = (
    "create_module", "get_kernel_syms", "query_module", "nfsservctl", "uselib", "ustat",
    "sysfs", "_sysctl", "vm86", "vm86old", "kexec_load", "kexec_file_load", "userfaultfd",
    "swapon", "swapoff", "lookup_dcookie", "stime",
)

# Refused unless the container holds the capability (the key).
_BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": (
        "mount", "umount", "umount2", "pivot_root", "unshare", "setns", "quotactl",
        "name_to_handle_at", "open_by_handle_at", "fsconfig", "fsmount", "fsopen", "fspick",
        "open_tree", "move_mount", "mount_setattr", "add_key", "keyctl", "request_key",
        "bpf", "perf_event_open", "fanotify_init",
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_TIME": ("settimeofday", "clock_settime", "clock_adjtime", "adjtimex"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_SYS_PTRACE": ("kcmp", "process_vm_readv", "process_vm_writev"),
    "CAP_SYS_NICE": ("get_mempolicy", "set_mempolicy", "mbind", "move_pages"),
}

# clone(2) flags that create namespaces; refused without CAP_SYS_ADMIN (each flag is
# its own rule because a masked-equal test can only say "this bit is set").
_CLONE_NS_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


# The host's native architecture and the compat ones its kernel also runs.
_ARCHES = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}


def default_profile(capabilities: Iterable[str]) -> dict[str, Any]:
    """The ``linux.seccomp`` section of config.json for a container with ``capabilities``."""
    caps = set(capabilities)
    denied = list(_ALWAYS)
    for cap, calls in _BY_CAPABILITY.items():
        if cap not in caps:
            denied += calls
    syscalls: list[dict[str, Any]] = [
        {"names": sorted(denied), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
    ]
    if "CAP_SYS_ADMIN" not in caps:
        for flag in _CLONE_NS_FLAGS:
            syscalls.append({
                "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM,
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            })
        # clone3 passes its flags in memory, out of seccomp's reach: say ENOSYS so that
        # libcs fall back to clone(2), where the rules above apply (Docker does the same).
        syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO",
                         "errnoRet": errno.ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": list(_ARCHES.get(platform.machine(), ())),
        "syscalls": syscalls,
    }
