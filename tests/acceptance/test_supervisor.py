"""Acceptance tests of the supervisor: real processes, real signals, no database.

The fake ``worker_main`` appends one JSON line per event (``ready``, ``sigterm``, ``exit``) to
a file in ``tmp_path``; tests read that file and the handle's shared-memory pid list, and wait
with ``wait_until`` (poll with a deadline), never with a bare sleep.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import multiprocess
import pytest
from dbos_workers.supervisor import (
    WORKER_BOOT_ERROR,
    SupervisorHandle,
    WorkerContext,
    spawn_supervisor,
)

pytestmark = pytest.mark.acceptance

WorkerMain = Callable[[WorkerContext], int]


# -- helpers -------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds pass; its last verdict."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)


def stays_true(predicate: Callable[[], object], duration: float, interval: float = 0.02) -> bool:
    """True if ``predicate`` holds at every poll for ``duration`` seconds."""
    return not wait_until(lambda: not predicate(), duration, interval)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@dataclass(frozen=True)
class Event:
    event: str
    slot: int
    gen: int
    pid: int
    t: float


class Events:
    """The JSON-lines event file written by every fake worker."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[Event]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        return [Event(**json.loads(line)) for line in lines if line.endswith("}")]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.all() if e.event == kind]

    def ready(self, slot: int, gen: int) -> Event | None:
        found = [e for e in self.of("ready") if e.slot == slot and e.gen == gen]
        return found[0] if found else None

    def pids(self) -> set[int]:
        return {e.pid for e in self.all()}


def record(path: Path, kind: str, ctx: WorkerContext) -> None:
    line = json.dumps(
        {
            "event": kind,
            "slot": ctx.slot,
            "gen": ctx.generation,
            "pid": os.getpid(),
            "t": time.monotonic(),
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def make_worker(
    path: Path,
    *,
    ignore_term_slots: frozenset[int] = frozenset(),
    stall: tuple[int, int] | None = None,
    boot_error_slot: int | None = None,
    crash_slot: int | None = None,
) -> WorkerMain:
    """A worker that beats every 50 ms until SIGTERM/SIGQUIT or its supervisor is gone.

    ``stall=(slot, gen)`` never beats in that process; ``ignore_term_slots`` only record
    SIGTERM; ``boot_error_slot``'s first process returns WORKER_BOOT_ERROR at once;
    ``crash_slot`` raises right after it is ready, in every generation.
    """

    def worker_main(ctx: WorkerContext) -> int:
        if ctx.slot == boot_error_slot and ctx.generation == 0:
            return WORKER_BOOT_ERROR
        stop: list[int] = []

        def on_term(signum: int, _frame: FrameType | None) -> None:
            record(path, "sigterm", ctx)
            if ctx.slot not in ignore_term_slots:
                stop.append(signum)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGQUIT, lambda signum, _frame: stop.append(signum))
        record(path, "ready", ctx)
        if ctx.slot == crash_slot:
            raise RuntimeError("boom")
        stalled = stall == (ctx.slot, ctx.generation)
        while not stop and ctx.parent_alive():
            if not stalled:
                ctx.beat()
            time.sleep(0.05)  # the worker's own pace, not test synchronisation
        record(path, "exit", ctx)
        return 0

    return worker_main


@dataclass
class Harness:
    handle: SupervisorHandle
    events: Events
    workers: int

    def wait_ready(self, timeout: float = 5.0) -> list[Event]:
        """Wait until every slot's first process is ready; returns their ready events."""
        wanted = set(range(self.workers))
        assert wait_until(
            lambda: {e.slot for e in self.events.of("ready") if e.gen == 0} >= wanted, timeout
        ), f"workers not ready: {self.events.all()}"
        return sorted(
            (e for e in self.events.of("ready") if e.gen == 0 and e.slot in wanted),
            key=lambda e: e.slot,
        )

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.handle.pid, sig)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Start supervisors with fake workers; stop them and kill any leftover at teardown."""
    started: list[Harness] = []

    def _start(workers: int = 3, **options: Any) -> Harness:
        worker_opts = {
            key: options.pop(key)
            for key in ("ignore_term_slots", "stall", "boot_error_slot", "crash_slot")
            if key in options
        }
        events = Events(tmp_path / f"events-{len(started)}.jsonl")
        worker_main = make_worker(events.path, **worker_opts)
        handle = spawn_supervisor(worker_main, workers=workers, **options)
        harness = Harness(handle, events, workers)
        started.append(harness)
        return harness

    yield _start
    for harness in started:
        if harness.handle.exitcode is None:
            harness.handle.stop()
            if not harness.handle.join(5):
                os.kill(harness.handle.pid, signal.SIGKILL)
                harness.handle.join(5)
        for pid in harness.events.pids():
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- tests ---------------------------------------------------------------------------------


def test_spawns_workers_in_distinct_slots(start: Callable[..., Harness]) -> None:
    sup = start(workers=3)
    ready = sup.wait_ready()
    assert [e.slot for e in ready] == [0, 1, 2]
    assert len({e.pid for e in ready}) == 3
    assert wait_until(lambda: set(sup.handle.worker_pids()) == {e.pid for e in ready}, 2)
    assert sup.handle.is_alive()
    # Named for ps/top: the supervisor and each worker by its slot.
    assert _comm(sup.handle.pid) == "dbw-supervisor"
    assert sorted(_comm(e.pid) for e in ready) == ["dbw-worker-0", "dbw-worker-1", "dbw-worker-2"]


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def test_killed_worker_is_replaced_in_its_slot(start: Callable[..., Harness]) -> None:
    sup = start(workers=3)
    victim = sup.wait_ready()[1]
    os.kill(victim.pid, signal.SIGKILL)
    assert wait_until(lambda: sup.events.ready(slot=1, gen=1), 2.0)
    replacement = sup.events.ready(slot=1, gen=1)
    assert replacement is not None and replacement.pid != victim.pid
    assert wait_until(lambda: replacement.pid in sup.handle.worker_pids(), 1)
    assert victim.pid not in sup.handle.worker_pids()
    assert sup.events.ready(slot=0, gen=1) is None and sup.events.ready(slot=2, gen=1) is None


def test_sigterm_drains_workers_and_exits_zero(start: Callable[..., Harness]) -> None:
    sup = start(workers=3)
    pids = {e.pid for e in sup.wait_ready()}
    sup.signal(signal.SIGTERM)
    assert sup.handle.join(5)
    assert sup.handle.exitcode == 0
    assert {e.pid for e in sup.events.of("sigterm")} == pids
    assert {e.pid for e in sup.events.of("exit")} == pids
    assert not [pid for pid in pids if pid_alive(pid)]
    assert sup.handle.worker_pids() == []
    assert not multiprocess.active_children()


def test_drain_kills_worker_that_ignores_sigterm(start: Callable[..., Harness]) -> None:
    sup = start(workers=2, drain_grace_sec=0.5, ignore_term_slots=frozenset({0}))
    stubborn, polite = sup.wait_ready()
    began = time.monotonic()
    sup.handle.drain(0.5)
    assert sup.handle.join(5)
    elapsed = time.monotonic() - began
    assert sup.handle.exitcode == 0
    assert 0.9 <= elapsed < 4.0, elapsed
    assert stubborn.pid in {e.pid for e in sup.events.of("sigterm")}
    assert stubborn.pid not in {e.pid for e in sup.events.of("exit")}
    assert polite.pid in {e.pid for e in sup.events.of("exit")}
    assert not pid_alive(stubborn.pid) and not pid_alive(polite.pid)


def test_second_sigterm_during_drain_is_a_hard_stop(start: Callable[..., Harness]) -> None:
    sup = start(workers=2, drain_grace_sec=30.0, ignore_term_slots=frozenset({0, 1}))
    pids = {e.pid for e in sup.wait_ready()}
    began = time.monotonic()
    sup.handle.drain(30.0)
    assert wait_until(lambda: {e.pid for e in sup.events.of("sigterm")} == pids, 3)
    sup.signal(signal.SIGTERM)  # workers ignore SIGTERM but stop on SIGQUIT
    assert sup.handle.join(5)
    assert sup.handle.exitcode == 0
    assert time.monotonic() - began < 5
    assert {e.pid for e in sup.events.of("exit")} == pids


def test_crash_loop_backs_off_exponentially(
    start: Callable[..., Harness], capfd: pytest.CaptureFixture[str]
) -> None:
    sup = start(workers=2, crash_slot=0)
    assert wait_until(lambda: sup.events.ready(slot=0, gen=3), 5)
    starts = [sup.events.ready(slot=0, gen=gen) for gen in range(4)]
    times = [e.t for e in starts if e is not None]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    for gap, delay in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert delay <= gap < delay + 0.5, gaps
    assert sup.events.ready(slot=1, gen=1) is None
    assert sup.handle.is_alive()
    captured = capfd.readouterr()
    out = captured.out + captured.err  # stdout by default; stderr once the library configured logging
    assert "worker_crashed" in out and "RuntimeError: boom" in out


def test_sigttin_and_sigttou_change_worker_count(start: Callable[..., Harness]) -> None:
    sup = start(workers=2)
    sup.wait_ready()
    sup.signal(signal.SIGTTIN)
    assert wait_until(lambda: sup.events.ready(slot=2, gen=0), 3)
    assert wait_until(lambda: len(sup.handle.worker_pids()) == 3, 2)
    sup.signal(signal.SIGTTOU)  # the kernel merges a pending duplicate: one at a time
    assert wait_until(lambda: len(sup.handle.worker_pids()) == 2, 3)
    sup.signal(signal.SIGTTOU)
    assert wait_until(lambda: len(sup.handle.worker_pids()) == 1, 3)
    exited = {e.slot for e in sup.events.of("exit")}
    assert exited == {1, 2}
    assert stays_true(lambda: len(sup.handle.worker_pids()) == 1, 0.8)
    assert sup.events.ready(slot=1, gen=1) is None and sup.events.ready(slot=2, gen=1) is None


def test_sighup_replaces_every_worker_one_at_a_time(start: Callable[..., Harness]) -> None:
    sup = start(workers=3)
    old = {e.pid for e in sup.wait_ready()}
    assert wait_until(lambda: set(sup.handle.worker_pids()) == old, 2)
    counts: list[int] = []

    def replaced() -> bool:
        pids = set(sup.handle.worker_pids())
        counts.append(len(pids))
        return len(pids) == 3 and not pids & old

    sup.signal(signal.SIGHUP)
    assert wait_until(replaced, 8, interval=0.005)
    assert min(counts) >= 2, counts
    assert wait_until(lambda: all(sup.events.ready(slot=slot, gen=1) for slot in range(3)), 2)
    assert not [pid for pid in old if pid_alive(pid)]


def test_worker_boot_error_stops_supervisor(start: Callable[..., Harness]) -> None:
    sup = start(workers=3, drain_grace_sec=2.0, boot_error_slot=1)
    assert sup.handle.join(8)
    assert sup.handle.exitcode == WORKER_BOOT_ERROR
    assert sup.events.ready(slot=1, gen=1) is None
    assert not [pid for pid in sup.events.pids() if pid_alive(pid)]


def test_stale_heartbeat_worker_is_killed_and_respawned(start: Callable[..., Harness]) -> None:
    sup = start(workers=2, heartbeat_timeout_sec=1.0, stall=(0, 0))
    stalled, healthy = sup.wait_ready()
    assert wait_until(lambda: sup.events.ready(slot=0, gen=1), 5)
    assert wait_until(lambda: not pid_alive(stalled.pid), 1)
    assert stalled.pid not in {e.pid for e in sup.events.of("exit")}  # SIGKILLed, no cleanup
    assert pid_alive(healthy.pid)
    assert sup.events.ready(slot=1, gen=1) is None


def test_workers_exit_when_supervisor_is_killed(start: Callable[..., Harness]) -> None:
    sup = start(workers=3)
    pids = {e.pid for e in sup.wait_ready()}
    os.kill(sup.handle.pid, signal.SIGKILL)
    assert sup.handle.join(2)
    assert wait_until(lambda: not [pid for pid in pids if pid_alive(pid)], 2.5)


def _app_process(events_path: str, pid_path: str) -> None:
    """Stands in for the app process: spawns a supervisor, then idles until killed."""
    handle = spawn_supervisor(make_worker(Path(events_path)), workers=2, drain_grace_sec=2.0)
    Path(pid_path).write_text(str(handle.pid))
    while True:
        time.sleep(1)


def test_supervisor_and_workers_exit_when_app_process_dies(tmp_path: Path) -> None:
    events = Events(tmp_path / "events.jsonl")
    pid_path = tmp_path / "supervisor.pid"
    ctx = multiprocess.get_context("fork")
    app = ctx.Process(target=_app_process, args=(str(events.path), str(pid_path)))
    app.start()
    try:
        assert wait_until(lambda: len(events.of("ready")) == 2 and pid_path.exists(), 5)
        supervisor_pid = int(pid_path.read_text())
        workers = {e.pid for e in events.of("ready")}
        os.kill(app.pid, signal.SIGKILL)
        app.join(2)
        assert wait_until(lambda: not pid_alive(supervisor_pid), 5)
        assert not [pid for pid in workers if pid_alive(pid)]
        assert {e.pid for e in events.of("sigterm")} == workers
    finally:
        if app.exitcode is None:
            app.kill()
            app.join(2)
        for pid in events.pids() | ({int(pid_path.read_text())} if pid_path.exists() else set()):
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
