"""Where a dbos-workers burn-down spends its time (run in the dbos-workers venv):

    bench/.venvs/dbos-workers/bin/python bench/peers/dbos_workers_profile.py \
        --url postgresql://postgres@127.0.0.1:5432/bench_dbw --n 5000 --kind 1 [--py-spy]

Instruments the library from the outside (nothing in dbos_workers is edited): before launch it
wraps the repository's one statement runner (Tx._execute) and the worker's per-workflow entry
point (recovery.execute); the forked workers inherit the wrappers. For each named query it
counts calls and round-trip wall time; for each workflow it records wall time, thread CPU
time, and the part of both spent inside database calls. With --py-spy it also samples every
worker process (py-spy must be installed in this venv) and prints the hottest frames.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dbos_workers_bench as bench
import harness

from dbos_workers import groupcommit
from dbos_workers.db import repository
from dbos_workers.worker import executor

OUT = Path(tempfile.mkdtemp(prefix="dbw-profile-"))
STATS: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])  # n, wall, cpu
LOCAL = threading.local()
_dumper: list[int] = []


def _dump_forever() -> None:
    while True:
        time.sleep(0.2)
        (OUT / f"{os.getpid()}.json").write_text(json.dumps(dict(STATS)))


def _ensure_dumper() -> None:
    if not _dumper or _dumper[0] != os.getpid():
        _dumper[:] = [os.getpid()]
        STATS.clear()  # a forked worker inherits the app's counters (the enqueues): start afresh
        threading.Thread(target=_dump_forever, daemon=True).start()


def _record(key: str, wall: float, cpu: float) -> None:
    s = STATS[key]
    s[0] += 1
    s[1] += wall
    s[2] += cpu


def instrument() -> None:
    original_execute = repository.Tx._execute
    original_run = executor.run_claimed
    original_submit = groupcommit.GroupCommit.submit

    def timed_submit(self: Any, item: Any) -> Any:
        """Group commit: a checkpoint/completion waits here while one thread flushes a batch."""
        w, c = time.perf_counter(), time.thread_time()
        try:
            return original_submit(self, item)
        finally:
            dw, dc = time.perf_counter() - w, time.thread_time() - c
            if getattr(LOCAL, "in_wf", False):
                LOCAL.gc_wall += dw
                LOCAL.gc_cpu += dc

    def timed_execute(self: Any, name: str, params: dict[str, Any]) -> Any:
        w, c = time.perf_counter(), time.thread_time()
        try:
            return original_execute(self, name, params)
        finally:
            dw, dc = time.perf_counter() - w, time.thread_time() - c
            _record("sql:" + name, dw, dc)
            if getattr(LOCAL, "in_wf", False):
                LOCAL.db_wall += dw
                LOCAL.db_cpu += dc

    def timed_run(rt: Any, claimed: Any, on_durable: Any = None) -> None:
        _ensure_dumper()
        LOCAL.in_wf, LOCAL.db_wall, LOCAL.db_cpu, LOCAL.gc_wall, LOCAL.gc_cpu = True, 0.0, 0.0, 0.0, 0.0
        w, c = time.perf_counter(), time.thread_time()
        try:
            # As in production: the outcome write may finish after this returns.
            original_run(rt, claimed, on_durable)
        finally:
            LOCAL.in_wf = False
            _record("wf:total", time.perf_counter() - w, time.thread_time() - c)
            _record("wf:in_db_calls", LOCAL.db_wall, LOCAL.db_cpu)
            _record("wf:in_group_commit_submit", LOCAL.gc_wall, LOCAL.gc_cpu)

    repository.Tx._execute = timed_execute  # type: ignore[method-assign]
    groupcommit.GroupCommit.submit = timed_submit  # type: ignore[method-assign]
    executor.run_claimed = timed_run  # the executor calls it by its module global


def collect() -> dict[str, list[float]]:
    total: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for f in OUT.glob("*.json"):
        for key, (n, wall, cpu) in json.loads(f.read_text()).items():
            t = total[key]
            t[0] += n
            t[1] += wall
            t[2] += cpu
    return total


def py_spy(duration: float) -> subprocess.Popen[bytes] | None:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        print("py-spy not installed in this venv: pip install py-spy", file=sys.stderr)
        return None
    cmd = [str(exe), "record", "--pid", str(os.getpid()), "--subprocesses", "--format", "raw",
           "--rate", "250", "--duration", str(int(duration)), "--output", str(OUT / "spy.txt"), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


ROLES = (("listener thread (LISTEN/NOTIFY)", "listener.py"), ("claimer loop", "claimer.py"),
         ("heartbeat", "heartbeat.py"), ("leader/maintenance", "leader/"),
         ("executor threads (workflows)", "concurrent/futures/thread.py"))


def summarize_spy(path: Path) -> list[tuple[str, float]]:
    """Share of the worker processes' CPU samples by thread role, split into time inside psycopg
    (driver: building, sending and parsing messages) and the rest (library + interpreter)."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack.count("process ") < 3:  # app and supervisor processes: not the pool
            continue
        role = next((name for name, mark in ROLES if mark in stack), "other")
        where = "psycopg" if "psycopg/" in stack else "python"
        counts[f"{role}: {where}"] += int(n)
        total += int(n)
    return [(k, c / max(1, total)) for k, c in counts.most_common()]


def report(total: dict[str, list[float]], result: dict[str, Any]) -> None:
    wf_n = max(1, int(total.get("wf:total", [1])[0]))
    print(f"\nburn-down: {result['done']} workflows ({result['kind']}-step), {result['rate']:.0f} wf/s, "
          f"{result['procs']} procs; postgres CPU {result['postgres_cpu_s']:.2f} s, "
          f"worker CPU {result['workers_cpu_s']:.2f} s, drain {result['drain_s']:.2f} s; "
          f"{result['xact_per_wf']:.2f} transactions/wf, {result['wal_sync']:.0f} WAL fsyncs")
    print(f"{'per workflow':40s} {'calls/wf':>9s} {'wall ms':>9s} {'cpu ms':>8s}")
    for key in sorted(total, key=lambda k: -total[k][1]):
        n, wall, cpu = total[key]
        print(f"{key:40s} {n / wf_n:9.2f} {wall / wf_n * 1000:9.3f} {cpu / wf_n * 1000:8.3f}")


def main() -> None:
    args = harness.parse(["burndown", *[a for a in sys.argv[1:] if a != "--py-spy"]])
    args.options = {}
    shared = harness.make_shared(args.n + 64)
    shared["enq"] = harness.mp.Array("d", args.n + 64, lock=False)
    harness.install_shared(shared)
    instrument()
    ad = bench.DbosWorkers(args.url, args)
    spy: list[subprocess.Popen[bytes] | None] = []
    original_start = ad.start_workers

    def start_workers(procs: int) -> None:
        original_start(procs)
        if "--py-spy" in sys.argv:
            spy.append(py_spy(duration=max(3.0, args.n / 400)))

    ad.start_workers = start_workers  # type: ignore[method-assign]
    result = harness.scenario_burndown(ad, args)
    time.sleep(0.5)
    report(collect(), result)
    if spy and spy[0] is not None:
        spy[0].wait(timeout=120)
        print("\npy-spy, worker processes, share of on-CPU samples:")
        for frame, share in summarize_spy(OUT / "spy.txt"):
            print(f"  {share * 100:5.1f}%  {frame}")
    os._exit(0)


if __name__ == "__main__":
    main()
