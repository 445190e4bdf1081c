"""OS-level thread names, so `top -H`, `ps -L`, perf and py-spy show which of a process's
threads does what (dbw-exec-3, dbw-outcomes, dbw-listener, ...). Linux `comm` is 15 bytes;
elsewhere this does nothing."""

from __future__ import annotations

import threading

from .supervisor_link import set_process_name


def name_thread() -> None:
    """Give the calling thread its Python name as its OS name (dbos-* shortened to dbw-*)."""
    set_process_name(threading.current_thread().name.replace("dbos-", "dbw-", 1))
