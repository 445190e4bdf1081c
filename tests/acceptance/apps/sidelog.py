"""A JSON-lines side log shared by every process of a test.

Each record is one ``O_APPEND`` write of one short line, so lines from concurrent processes
never interleave. ``t`` is ``time.monotonic()``: CLOCK_MONOTONIC is system-wide on Linux, so
times written by workers compare with the test process's clock.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def record(path: str | os.PathLike[str], **fields: Any) -> None:
    """Append one record with the writer's ``pid`` and monotonic time ``t``."""
    line = json.dumps({"pid": os.getpid(), "t": time.monotonic(), **fields}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(path: str | os.PathLike[str], **match: Any) -> list[dict[str, Any]]:
    """Every complete record whose fields equal ``match``, in write order."""
    p = Path(path)
    if not p.exists():
        return []
    rows = [json.loads(line) for line in p.read_text().splitlines() if line.endswith("}")]
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def wait_for_file(path: str | os.PathLike[str], timeout: float) -> None:
    """App-side gate: block the calling step until ``path`` exists (the test creates it)."""
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout}s")
        time.sleep(0.01)
