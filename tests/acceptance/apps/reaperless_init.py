"""Stands in for a container's PID 1 that never reaps orphans (Docker without --init, a shell
entrypoint): a child subreaper that starts ``argv[1:]`` in its own process group, prints its
pid and then only waits for signals. Processes of that group that outlive their parent are
reparented here and stay zombies (dead, never reaped) until this process exits.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36

if __name__ == "__main__":
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    app = subprocess.Popen(sys.argv[1:], start_new_session=True)
    print(app.pid, flush=True)
    while True:
        signal.pause()  # SIGTERM/SIGKILL (default actions) end it
