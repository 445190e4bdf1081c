"""Fixtures for the network-namespace harness (tests/chaos/netns.py)."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.chaos.netns import Fabric, probe


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@functools.cache
def _refused() -> str | None:
    return probe()  # once per session


@pytest.fixture
def fabric_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Fabric]]:
    """fabric_factory(hosts, **opts) -> an open Fabric; every one is torn down after the test,
    also when it failed (namespaces, bridge, processes, the private Postgres). After a failure
    its directory (side logs, each host's log, the Postgres log) is kept and named."""
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
            if request.node.stash.get(FAILED, False):
                print(f"\n[fabric] kept for inspection: {base}")
            else:
                shutil.rmtree(base, ignore_errors=True)
