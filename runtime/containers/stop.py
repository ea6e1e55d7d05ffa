"""Stopping a container: the stop signal, a grace period, then SIGKILL; without the wait
Docker makes everyone sit through.

The kernel drops a signal sent to a PID namespace's init (PID 1) unless PID 1 has
a handler for it: SIG_DFL means "ignore" for a namespace init. So sending SIGTERM
to ``sleep 3600`` as PID 1 does nothing and Docker waits the full 10 s for
nothing. We look at PID 1's caught-signal mask (SigCgt in /proc/<pid>/status):
when it does not catch the stop signal, the signal cannot work, and we kill at
once (a process younger than STARTUP_GRACE gets that long to set its handler up).
We look again throughout the grace period, because a program can exec into one
without a handler after we sent the signal; then the signal is lost and we kill.
A blocked signal counts as caught: the kernel queues it, and the program may
take it with sigwait.

With ``init: true`` PID 1 is tini, which waits for every signal (sigtimedwait) and
forwards it to its child. The child is no namespace init, so the default action
applies to it (SIGTERM kills it) and tini exits with it. There we look at the
child instead: only when it ignores the signal (SigIgn) can the signal not work.

Waiting is on conmon's exit file: the stop returns once the container is dead
and its exit code recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal as signal_module
import time
from collections.abc import Callable

from runtime.errors import InvalidArgument

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.01
KILL_WAIT = 10.0  # after SIGKILL the kernel needs only moments; this bounds a stuck monitor
STARTUP_GRACE = 0.2  # how old a process must be before "no handler" is believed


def parse_signal(name: str | int) -> signal_module.Signals:
    """"TERM", "SIGTERM", "15" or 15 -> Signals.SIGTERM."""
    if isinstance(name, int) or str(name).isdigit():
        try:
            return signal_module.Signals(int(name))
        except ValueError as exc:
            raise InvalidArgument(f'signal "{name}" is not a valid signal number') from exc
    text = str(name).upper()
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return signal_module.Signals[text]
    except KeyError as exc:
        raise InvalidArgument(f'signal "{name}" is unknown') from exc


def _status_masks(pid: int) -> dict[str, int] | None:
    """Signal masks of ``pid``; None when it is gone or dying (a zombie has none left)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except OSError:  # gone (ENOENT) or going (ESRCH)
        return None
    masks = {}
    for line in lines:
        if line.startswith("State:") and line.split()[1] in ("Z", "X"):
            return None
        if line.startswith(("SigCgt:", "SigBlk:", "SigIgn:")):
            masks[line.split(":")[0]] = int(line.split()[1], 16)
    return masks


def _in_sigwait(pid: int) -> bool:
    """Waiting in sigtimedwait/sigwaitinfo: the kernel unblocks the awaited signals for the
    wait (so SigBlk shows nothing), yet it queues them for the caller."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return "sigtimedwait" in f.read()
    except OSError:
        return False


def catches(pid: int, sig: signal_module.Signals) -> bool | None:
    """Whether a namespace init ``pid`` will act on ``sig``: it has a handler (SigCgt),
    blocks it (SigBlk: the kernel queues blocked signals even for an init) or waits for
    signals with sigtimedwait. None when the process is gone."""
    masks = _status_masks(pid)
    if masks is None:
        return None
    bit = 1 << (int(sig) - 1)
    if (masks.get("SigCgt", 0) | masks.get("SigBlk", 0)) & bit:
        return True
    return _in_sigwait(pid)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def forwarded_signal_works(pid: int, sig: signal_module.Signals) -> bool | None:
    """For an init like tini (``pid``) that forwards signals to its child: the child is
    no namespace init, so the signal works unless the child ignores it (SigIgn)."""
    children = _children(pid)
    if not children:
        return catches(pid, sig)
    bit = 1 << (int(sig) - 1)
    for child in children:
        masks = _status_masks(child)
        if masks is not None and not (masks.get("SigIgn", 0) & bit):
            return True
    return False


def stop_process(*, pid: int, sig: signal_module.Signals, timeout: float,
                 exited: Callable[[], bool], send: Callable[[int], None],
                 forwarding_init: bool = False) -> bool:
    """Stop PID 1 ``pid``; returns True when it had to be killed.

    ``exited()`` says whether the container is dead (conmon's exit file exists);
    ``send(signum)`` delivers a signal to PID 1 (the caller guards PID reuse);
    ``forwarding_init``: PID 1 is our init (tini), which passes signals to its child.
    """
    def works() -> bool | None:
        return forwarded_signal_works(pid, sig) if forwarding_init else catches(pid, sig)

    if exited():
        return False
    if sig != signal_module.SIGKILL:
        # A program that has only just started may not have set up its handler yet:
        # give it until it is STARTUP_GRACE old before deciding that it has none.
        settle = time.monotonic() + max(0.0, STARTUP_GRACE - _age(pid))
        while not works() and time.monotonic() < settle and not exited():
            time.sleep(POLL_INTERVAL)
    if sig == signal_module.SIGKILL or not works():
        log.debug("pid %d does not catch %s: killing at once", pid, sig.name)
        _kill_and_wait(send=send, exited=exited)
        return True
    image = _cmdline(pid)
    send(int(sig))
    deadline = time.monotonic() + max(timeout, 0.0)
    while time.monotonic() < deadline:
        if exited():
            return False
        # Handler gone AND a new program (exec): our signal is lost, so stop waiting.
        # Handler gone in the same program is a process on its way out (Python resets
        # its handlers while it finalizes): let it finish.
        if works() is False and _cmdline(pid) not in (image, None):
            log.debug("pid %d exec'd into a program without a %s handler: killing",
                      pid, sig.name)
            break
        time.sleep(POLL_INTERVAL)
    if exited():
        return False
    _kill_and_wait(send=send, exited=exited)
    return True


def _cmdline(pid: int) -> bytes | None:
    """None when gone or exiting (a process that has released its memory shows none)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read() or None
    except OSError:
        return None


def _age(pid: int) -> float:
    """Seconds since ``pid`` started (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            start_ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return 0.0
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def _kill_and_wait(*, send: Callable[[int], None], exited: Callable[[], bool]) -> None:
    with contextlib.suppress(ProcessLookupError):
        send(int(signal_module.SIGKILL))
    wait_until(exited, timeout=KILL_WAIT)


def wait_until(condition: Callable[[], bool], *, timeout: float | None) -> bool:
    """Poll ``condition`` until true (returns True) or ``timeout`` (returns False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = POLL_INTERVAL
    while not condition():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
    return True


def signal_pid(pid: int, signum: int) -> None:
    """Send through a pidfd, so the signal cannot hit another process that reused the PID
    after we opened it."""
    fd = os.pidfd_open(pid)
    try:
        signal_module.pidfd_send_signal(fd, signum)
    finally:
        os.close(fd)
