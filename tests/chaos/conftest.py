"""Fixtures for the network-namespace harness (tests/chaos/netns.py)."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.chaos.netns import Fabric, probe


@functools.cache
def _refused() -> str | None:
    return probe()  # once per session


@pytest.fixture
def fabric_factory() -> Iterator[Callable[..., Fabric]]:
    """fabric_factory(hosts, **opts) -> an open Fabric; every one is torn down after the test,
    also when it failed (namespaces, bridge, processes, the private Postgres)."""
    reason = _refused()
    if reason:
        pytest.skip(f"multi-host harness unavailable: {reason}")
    made: list[tuple[Fabric, Path]] = []

    def _make(hosts: int, **opts: float) -> Fabric:
        base = Path(tempfile.mkdtemp(prefix="dbw-netns-"))
        base.chmod(0o755)
        fabric = Fabric(base, hosts, **opts)
        made.append((fabric, base))
        fabric.open()
        return fabric

    try:
        yield _make
    finally:
        for fabric, base in made:
            fabric.close()
            shutil.rmtree(base, ignore_errors=True)
