"""Is a process on this host still the one that registered? Answered from /proc without any
wall clock: a pid names the same process while its start time, in clock ticks since boot
(/proc/<pid>/stat field 22), and the host's boot id are the ones it registered with."""

from __future__ import annotations

import functools
import os


@functools.cache
def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), None when unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, None when unknown."""
    fields = _proc_stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (ValueError, IndexError):
        return None


def process_identity(pid: int) -> tuple[int | None, str | None]:
    """What a process registers so that others on its host can tell it from a reused pid."""
    return start_ticks(pid), boot_id()


def pid_alive(pid: int, registered_ticks: int | None, registered_boot: str | None) -> bool:
    """True unless pid is certainly not the registered process: gone, a zombie, started after
    it (a reused pid), or the host rebooted since. Unknown identity counts as alive."""
    if registered_boot is not None and boot_id() is not None and registered_boot != boot_id():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False  # exited, not reaped (an orphan under an init that never reaps)
    if registered_ticks is None:
        return True
    current = start_ticks(pid)
    return current is None or current == registered_ticks
