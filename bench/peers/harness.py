"""The scenarios, written once against a small adapter that each system implements.

Runs inside each system's own virtualenv (stdlib + psycopg only here), so it must not import
bench/ modules from the driver. A peer script calls `main(Adapter)`; the result is printed as
one JSON line starting with `BENCH_RESULT `, which the driver collects.

Timestamps come from process-shared memory (multiprocessing arrays inherited by or passed to
the worker processes): the enqueuer writes time.time() just before enqueue into ENQ[i], the
workflow/job writes time.time() at its first line into START[i]. Same host clock, no logs.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable
from typing import Any

SHARED: dict[str, Any] = {}  # "start", "end": mp.Array('d') shared with the workers
KINDS = ("0", "1", "3", "cpu", "tx", "async")  # steps per workflow; cpu = one step burning
# --cpu-iters loops; tx = one transaction (peers/tx_common.py); async = an async workflow (job)
# awaiting one 100 ms asyncio.sleep step (scenarios/asyncio_burndown.py)


def url_from_argv() -> str:
    """--url from the command line, for modules that need it at import time (spawned children
    get it through the BENCH_URL environment variable that the parent sets from this)."""
    argv = __import__("sys").argv
    for k, arg in enumerate(argv):
        if arg == "--url" and k + 1 < len(argv):
            return argv[k + 1]
        if arg.startswith("--url="):
            return arg.split("=", 1)[1]
    return ""


def make_shared(size: int) -> dict[str, Any]:
    return {"start": mp.Array("d", size, lock=False), "end": mp.Array("d", size, lock=False),
            "pid": mp.Array("i", size, lock=False), "burn": mp.Array("d", size, lock=False)}


def install_shared(shared: dict[str, Any]) -> None:
    """Called in each worker process (spawned ones receive the arrays as arguments)."""
    SHARED.update(shared)


def mark_start(i: int) -> None:
    SHARED["start"][i] = time.time()
    SHARED["pid"][i] = os.getpid()


def mark_end(i: int) -> None:
    SHARED["end"][i] = time.time()
    burned = getattr(_BURN, "cpu", 0.0)
    if burned:
        SHARED["burn"][i], _BURN.cpu = burned, 0.0


_BURN = threading.local()  # the thread CPU of this thread's last burn(), for mark_end


def burn(iters: int) -> int:
    """Pure-Python CPU work (the cpu workflow's step). Its thread CPU time is recorded with the
    workflow's end: how fast the host ran that workflow's loop (this host's speed drifts)."""
    t = time.thread_time()
    acc = 0
    for k in range(iters):
        acc = (acc + k * k) % 1000003
    _BURN.cpu = time.thread_time() - t
    return acc


class Adapter:
    """What a system implements. One instance per peer-script run."""

    name = "?"
    remaining_sql = ""  # count of enqueued-but-not-finished items
    has_results = True  # enqueue->result measurable (durable workflows return values)
    settings: dict[str, Any] = {}

    def __init__(self, url: str, args: argparse.Namespace) -> None:
        self.url, self.args = url, args

    def reset(self) -> None: ...
    def open_producer(self) -> None: ...
    def close_producer(self) -> None: ...
    def enqueue(self, kind: str, i: int) -> Any: ...
    def wait_result(self, handle: Any, timeout: float) -> None: ...
    def start_workers(self, procs: int) -> None: ...
    def stop_workers(self) -> None: ...


# ---------------------------------------------------------------- measurement helpers
def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def lat_summary(values_s: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else None}


class Monitor:
    """One autocommit connection: remaining-count polling and Postgres counters."""

    def __init__(self, url: str, remaining_sql: str) -> None:
        import psycopg  # every system's venv has it; the driver (which imports burn) may not

        self.conn = psycopg.connect(url, autocommit=True)
        self.remaining_sql, self.polls = remaining_sql, 0

    def remaining(self) -> int:
        self.polls += 1
        return int(self.conn.execute(self.remaining_sql).fetchone()[0])

    def wait_drained(self, timeout: float, bodies: range | None = None, every: float = 0.02) -> bool:
        """Poll until nothing of the run is left in the database. With `bodies` (the run's item
        indices), the database is polled only once every body has returned (read from shared
        memory): a count over the queue every 20 ms while the pool works costs the server CPU
        that the pool competes for (measured: ~0.65 ms a count, 3 % of a core, and more for the
        system whose finished rows stay in the table). Then it polls every 5 ms."""
        deadline = time.time() + timeout
        if bodies is not None:
            end, lo = SHARED["end"], bodies.start  # every body before lo has returned
            while lo < bodies.stop and time.time() < deadline:
                while lo < bodies.stop and end[lo] != 0.0:
                    lo += 1
                if lo < bodies.stop:
                    time.sleep(every)
            every = 0.005
        while time.time() < deadline:
            if self.remaining() == 0:
                return True
            time.sleep(every)
        return False

    def pg_counters(self) -> dict[str, float]:
        db = self.conn.execute("SELECT xact_commit, xact_rollback FROM pg_stat_database "
                               "WHERE datname = current_database()").fetchone()
        wal = self.conn.execute("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal").fetchone()
        return {"xact": float(db[0] + db[1]), "wal_records": float(wal[0]),
                "wal_bytes": float(wal[1]), "wal_sync": float(wal[2]), "polls": float(self.polls)}

    def close(self) -> None:
        self.conn.close()


def spans(n: int) -> dict[str, Any]:
    """Per worker process: how many workflows it ran and when it started/finished its first/last
    one. stagger_s: how much later the last process started than the first; tail_s: how long
    the first process to run out of work idled before the last one finished (both are time
    in the drain window when not every process worked)."""
    by_pid: dict[int, list[int]] = {}
    for i in range(n):
        if SHARED["start"][i] > 0 and SHARED["end"][i] > 0:
            by_pid.setdefault(SHARED["pid"][i], []).append(i)
    if not by_pid:
        return {}
    first = {p: min(SHARED["start"][i] for i in ix) for p, ix in by_pid.items()}
    last = {p: max(SHARED["end"][i] for i in ix) for p, ix in by_pid.items()}
    burns = sorted(SHARED["burn"][i] for i in range(n) if SHARED["burn"][i] > 0)
    return {"burn_ms": 1000 * burns[len(burns) // 2] if burns else None,
            "per_process": sorted(len(ix) for ix in by_pid.values()),
            "stagger_s": max(first.values()) - min(first.values()),
            "tail_s": max(last.values()) - min(last.values()),
            "peak_per_process": sorted(_peak(ix) for ix in by_pid.values())}


def _peak(items: list[int]) -> int:
    """The most of these workflows running at once (started, not yet ended)."""
    events = sorted([(SHARED["start"][i], 1) for i in items] + [(SHARED["end"][i], -1) for i in items],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def cpu_ticks() -> dict[str, int]:
    """CPU ticks (utime+stime) of all postgres processes and of this process's descendants,
    and the host's idle ticks."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    comm: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        pid = int(entry)
        parent[pid], comm[pid] = int(fields[1]), name
        ticks[pid] = int(fields[11]) + int(fields[12])
    me = os.getpid()

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == me:
                return True
        return False

    pg = sum(t for p, t in ticks.items() if comm[p] == "postgres")
    workers = sum(t for p, t in ticks.items() if p != me and descends(p))
    with open("/proc/stat") as f:
        total = f.readline().split()[1:]
    return {"postgres": pg, "workers": workers, "self": ticks.get(me, 0),
            "idle": int(total[3]) + int(total[4])}  # the host's idle + iowait, all cores


def cpu_delta(a: dict[str, int], b: dict[str, int]) -> dict[str, float]:
    hz = os.sysconf("SC_CLK_TCK")
    return {f"{k}_cpu_s": (b[k] - a[k]) / hz for k in a}


# ---------------------------------------------------------------- producers
def produce(ad: Adapter, kind: str, indices: list[int], threads: int,
            schedule: Callable[[int], float] | None = None, deadline: float | None = None) -> list[Any]:
    """Enqueue indices from `threads` threads; with a schedule, item k waits until its time.
    With a deadline, no item is taken after it: the ones enqueued are a prefix of `indices`
    (the handles of the others stay None)."""
    handles: list[Any] = [None] * len(indices)
    lock, cursor = threading.Lock(), [0]
    enq = SHARED["enq"]

    def run() -> None:
        while True:
            with lock:
                if deadline is not None and time.time() > deadline:
                    return
                k = cursor[0]
                cursor[0] += 1
            if k >= len(indices):
                return
            if schedule is not None:
                delay = schedule(k) - time.time()
                if delay > 0:
                    time.sleep(delay)
            i = indices[k]
            enq[i] = time.time()
            handles[k] = ad.enqueue(kind, i)

    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return handles


# ---------------------------------------------------------------- scenarios
def scenario_burndown(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    """Pre-enqueue n workflows of one kind, then start the pool and time the drain."""
    n = a.n
    ad.reset()
    ad.open_producer()
    t_enq = time.time()
    produce(ad, a.kind, list(range(n)), threads=a.producer_threads)
    enqueue_s = time.time() - t_enq
    ad.close_producer()
    time.sleep(0.5)  # let the producer's backends exit and flush their statistics
    mon = Monitor(ad.url, ad.remaining_sql)
    assert mon.remaining() == n, f"expected {n} enqueued, found {mon.remaining()}"
    c0, cpu0 = mon.pg_counters(), cpu_ticks()
    t_launch = time.time()
    ad.start_workers(a.procs)
    drained = mon.wait_drained(a.drain_budget or a.timeout, bodies=range(n))
    t1 = time.time()
    cpu1 = cpu_ticks()
    left = mon.remaining()
    ad.stop_workers()
    time.sleep(0.5)  # worker backends exit and flush their statistics
    c1 = mon.pg_counters()
    mon.close()
    starts = [s for s in SHARED["start"][:n] if s > 0]
    t0 = min(starts) if starts else t_launch
    last_end = max(SHARED["end"][:n])  # cross-check: the last workflow body to return
    done = n - left
    window = max(1e-9, t1 - t0)
    polls = c1["polls"] - c0["polls"]
    return {"kind": a.kind, "n": n, "procs": a.procs, "drained": drained, "done": done,
            "rate": done / window, "drain_s": window, "startup_s": t0 - t_launch,
            "body_end_to_drained_s": t1 - last_end, "bodies_done": sum(1 for e in SHARED["end"][:n] if e > 0),
            "enqueue_rate": n / enqueue_s,
            "xact_per_wf": (c1["xact"] - c0["xact"] - polls - 2) / max(1, done),
            "wal_records_per_wf": (c1["wal_records"] - c0["wal_records"]) / max(1, done),
            "wal_bytes_per_wf": (c1["wal_bytes"] - c0["wal_bytes"]) / max(1, done),
            "wal_sync": c1["wal_sync"] - c0["wal_sync"],
            **cpu_delta(cpu0, cpu1), **spans(n)}


def _warm_up(ad: Adapter, base: int, count: int = 5) -> None:
    for i in range(base, base + count):
        SHARED["enq"][i] = time.time()
        h = ad.enqueue("0", i)
        _wait_done(ad, h, i, 30.0)


def _wait_done(ad: Adapter, handle: Any, i: int, timeout: float) -> float | None:
    """Wait until item i finished; returns time.time() at result (None: no result API)."""
    if ad.has_results:
        ad.wait_result(handle, timeout)
        return time.time()
    deadline = time.time() + timeout
    while SHARED["end"][i] == 0 and time.time() < deadline:
        time.sleep(0.0005)
    return None


def scenario_latency(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    """Sequential samples on an idle pool: enqueue->start and enqueue->result."""
    ad.reset()
    ad.open_producer()
    ad.start_workers(a.procs)
    _warm_up(ad, a.n)
    to_start, to_result = [], []
    budget_end = time.time() + a.budget
    for i in range(a.n):
        if time.time() > budget_end:
            break
        time.sleep(0.02)  # idle gap: nothing queued, nothing running
        SHARED["enq"][i] = t = time.time()
        h = ad.enqueue("0", i)
        got = _wait_done(ad, h, i, 30.0)
        if SHARED["start"][i] > 0:
            to_start.append(SHARED["start"][i] - t)
        if got is not None:
            to_result.append(got - t)
    ad.stop_workers()
    ad.close_producer()
    return {"samples": len(to_start), "procs": a.procs, "to_start": lat_summary(to_start),
            "to_result": lat_summary(to_result) if ad.has_results else None}


def scenario_steady(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    """A paced producer at each rate for a.seconds while the pool runs."""
    ad.reset()
    ad.open_producer()
    ad.start_workers(a.procs)
    base = int(sum(r * a.seconds for r in a.rates) * 1.2) + 10
    _warm_up(ad, base)
    mon = Monitor(ad.url, ad.remaining_sql)
    out, next_i = [], 0
    for rate in a.rates:
        count = max(1, int(rate * a.seconds))
        idx = list(range(next_i, next_i + count))
        next_i += count
        t_begin = time.time() + 0.05
        # A producer that cannot keep up stops at 3x the window (the rest is not enqueued).
        produce(ad, "0", idx, threads=a.producer_threads, deadline=t_begin + 3 * a.seconds,
                schedule=lambda k, r=rate, t=t_begin: t + k / r)
        t_end = time.time()
        idx = idx[:sum(1 for i in idx if SHARED["enq"][i] > 0)] or idx[:1]
        count = len(idx)
        mon.wait_drained(a.timeout, bodies=range(idx[0], idx[-1] + 1))
        enq = [SHARED["enq"][i] for i in idx]
        lat = [SHARED["start"][i] - SHARED["enq"][i] for i in idx if SHARED["start"][i] > 0]
        out.append({"target_rate": rate, "enqueued": count,
                    "achieved_rate": count / max(1e-9, max(enq) - min(enq)) if count > 1 else None,
                    "producer_s": t_end - t_begin, "started": len(lat), **lat_summary(lat)})
        time.sleep(0.5)
    mon.close()
    ad.stop_workers()
    ad.close_producer()
    return {"procs": a.procs, "seconds": a.seconds, "windows": out}


SCENARIOS = {"burndown": scenario_burndown, "latency": scenario_latency, "steady": scenario_steady}
# Scenarios in modules of their own (bench/peers/<module>.py): scenario_<name>(ad, a), optionally
# add_arguments(parser) and shared_size(a) (timestamp slots, default n + 64).
MODULES = {"pgcost": "pgcost_probe", "enqueue": "harness_load", "queues": "harness_load",
           "soak": "harness_soak"}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=sorted([*SCENARIOS, *MODULES]))
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--kind", choices=KINDS, default="0")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--threads", type=int, default=16, help="concurrency per worker process")
    p.add_argument("--cpu-iters", type=int, default=20000)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--budget", type=float, default=60.0, help="latency: stop sampling after this")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--drain-budget", type=float, default=None,
                   help="burn-down: stop timing after this many seconds of draining (partial rate)")
    p.add_argument("--producer-threads", type=int, default=4)
    p.add_argument("--option", action="append", default=[], help="system-specific key=value")
    for module in sorted(set(MODULES.values())):
        getattr(__import__(module), "add_arguments", lambda _: None)(p)
    return p.parse_args(argv)


def main(adapter_cls: type[Adapter], argv: list[str] | None = None) -> None:
    a = parse(argv)
    a.options = dict(o.split("=", 1) for o in a.option)
    module = __import__(MODULES[a.scenario]) if a.scenario in MODULES else None
    size = getattr(module, "shared_size", lambda _: a.n + 64)(a)
    if a.scenario == "steady":
        size = int(sum(r * a.seconds for r in a.rates) * 1.2) + 64
    shared = make_shared(size)
    shared["enq"] = mp.Array("d", size, lock=False)
    install_shared(shared)
    ad = adapter_cls(a.url, a)
    result = (getattr(module, f"scenario_{a.scenario}") if module else SCENARIOS[a.scenario])(ad, a)
    result.update(system=ad.name, scenario=a.scenario, settings=ad.settings)
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # do not let library atexit hooks of a forked pool outlive the result
