"""soak (bench/scenarios/soak.py drives it): the pool runs with workflow retention while a
producer process outside it offers 1-step workflows at a fixed rate for --seconds.

The pool is started here (ad.start_workers, with --retention-sec in the adapter's config); the
producer is a spawned process with an app of its own (ad.open_producer) that paces item k at
t0 + k/rate from --producer-threads threads (no item is taken after t0 + seconds, so the
enqueued items are the prefix 0..count-1) and writes ENQ[k] just before each enqueue. Every
`every`-th item's handle goes to waiter threads that stamp RES[k] when get_result returns
(about --results-per-s a second: enqueue->result is sampled, enqueue->start is not).

Every --window seconds this process records the database side (row counts, table and index
bytes, rows deleted, the backlog) and the memory of every process the run started (VmRSS and
RssAnon: the shared timestamp arrays are file-backed, so RssAnon is the process's own heap).
Throughput and latency per window come from the timestamp arrays after the run: retention
deletes rows, not stamps.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import harness
from harness import Adapter, Monitor, lat_summary

WAITERS = 8


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--retention-sec", type=float, default=None, help="workflow_retention_sec of the pool")
    p.add_argument("--window", type=float, default=10.0, help="soak: seconds per sample/window")
    p.add_argument("--results-per-s", type=float, default=50.0, help="soak: get_result samples a second")


def shared_size(a: argparse.Namespace) -> int:
    return int(a.rates[0] * a.seconds) + 128


# ---------------------------------------------------------------- the producer process
def _offer(ad: Adapter, a: argparse.Namespace, t0: float, res: Any, every: int) -> int:
    """Paced enqueues of 1-step workflows until t0 + a.seconds; returns how many."""
    rate, stop, total = a.rates[0], t0 + a.seconds, int(a.rates[0] * a.seconds)
    enq, lock, cursor = harness.SHARED["enq"], threading.Lock(), [0]
    handles: queue.Queue[Any] = queue.Queue()

    def offer() -> None:
        while True:
            with lock:
                if cursor[0] >= total or time.time() >= stop:
                    return
                k = cursor[0]
                cursor[0] += 1
            delay = t0 + k / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            enq[k] = time.time()
            handle = ad.enqueue("1", k)
            if k % every == 0:
                handles.put((k, handle))

    def wait() -> None:
        while (got := handles.get()) is not None:
            try:
                ad.wait_result(got[1], 120.0)
                res[got[0]] = time.time()
            except Exception:  # a result not returned leaves no stamp (results_stamped counts them)
                pass

    producers = [threading.Thread(target=offer, daemon=True) for _ in range(a.producer_threads)]
    waiters = [threading.Thread(target=wait, daemon=True) for _ in range(WAITERS)]
    for t in producers + waiters:
        t.start()
    for t in producers:
        t.join()
    for _ in waiters:
        handles.put(None)
    for t in waiters:
        t.join()
    return min(cursor[0], total)


def producer_main(cls: type[Adapter], url: str, a: argparse.Namespace, shared: dict[str, Any],
                  res: Any, box: Any, every: int) -> None:
    """box[0] = t0 (set once the producer's app is up), box[1] = items enqueued (set at the end)."""
    harness.install_shared(shared)
    ad = cls(url, a)
    ad.open_producer()
    harness._warm_up(ad, len(res) - 64)
    box[0] = t0 = time.time() + 0.1
    box[1] = _offer(ad, a, t0, res, every)
    ad.close_producer()
    os._exit(0)


# ---------------------------------------------------------------- samples in this process
def _memory(exclude: int) -> dict[str, dict[str, Any]]:
    """Per process this one started (and itself, `app`), except the producer's subtree and
    multiprocessing's resource tracker: name, VmRSS and RssAnon in MB."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    me, out = os.getpid(), {}
    for pid in parent:
        chain, p = [pid], pid
        while p > 1 and p != me:
            p = parent.get(p, 0)
            chain.append(p)
        if p != me or exclude in chain:
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" in cmdline:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        mb = {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon") if k in fields}
        out[str(pid)] = {"name": "app" if pid == me else fields.get("Name", "?").strip(),
                         "rss_mb": round(mb.get("VmRSS", 0.0), 1), "anon_mb": round(mb.get("RssAnon", 0.0), 1)}
    return out


def _database(mon: Monitor, tables: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"backlog": mon.remaining()}
    for table in tables:
        rows = mon.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        total, heap, index = mon.conn.execute(
            "SELECT pg_total_relation_size(%s::regclass), pg_table_size(%s::regclass), "
            "pg_indexes_size(%s::regclass)", (table, table, table)).fetchone()
        deleted, dead = mon.conn.execute(
            "SELECT n_tup_del, n_dead_tup FROM pg_stat_user_tables WHERE relid = %s::regclass",
            (table,)).fetchone()
        out[table.rsplit(".", 1)[-1]] = {"rows": rows, "total_bytes": total, "table_bytes": heap,
                                         "index_bytes": index, "deleted": deleted, "dead": dead}
    return out


def _sample(mon: Monitor, tables: tuple[str, ...], t0: float, producer: int) -> dict[str, Any]:
    return {"t": round(time.time() - t0, 2), **_database(mon, tables), "processes": _memory(producer)}


# ---------------------------------------------------------------- figures from the stamps
def _windows(t0: float, seconds: float, width: float, count: int, res: Any) -> list[dict[str, Any]]:
    sh, nw = harness.SHARED, max(1, math.ceil(seconds / width))
    enq, done = [0] * nw, [0] * (nw + 1)  # done[nw]: after the offering ended (the drain)
    to_start: list[list[float]] = [[] for _ in range(nw)]
    to_result: list[list[float]] = [[] for _ in range(nw)]
    for i in range(count):
        e, s, d, r = sh["enq"][i], sh["start"][i], sh["end"][i], res[i]
        w = min(nw - 1, max(0, int((e - t0) // width)))
        enq[w] += 1
        if s > 0:
            to_start[w].append(s - e)
        if r > 0:
            to_result[w].append(r - e)
        if d > 0:
            done[min(nw, max(0, int((d - t0) // width)))] += 1
    return [{"t": k * width, "enqueue_rate": enq[k] / width, "completion_rate": done[k] / width,
             "to_start": lat_summary(to_start[k]), "to_result": lat_summary(to_result[k])}
            for k in range(nw)] + [{"t": nw * width, "drain_completions": done[nw]}]


def _segment(t0: float, lo: float, hi: float, count: int, res: Any) -> dict[str, Any]:
    """Throughput and latency of the items enqueued in [t0 + lo, t0 + hi)."""
    sh, a, b = harness.SHARED, t0 + lo, t0 + hi
    items = [i for i in range(count) if a <= sh["enq"][i] < b]
    done = sum(1 for i in range(count) if a <= sh["end"][i] < b)
    return {"from_s": lo, "to_s": hi, "enqueued": len(items), "completion_rate": done / (hi - lo),
            "to_start": lat_summary([sh["start"][i] - sh["enq"][i] for i in items if sh["start"][i] > 0]),
            "to_result": lat_summary([res[i] - sh["enq"][i] for i in items if res[i] > 0])}


# ---------------------------------------------------------------- the scenario
def scenario_soak(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    tables = getattr(ad, "retained_tables", None)
    if not tables or not ad.has_results:
        raise SystemExit(f"{ad.name}: the soak needs retained_tables and results")
    size = shared_size(a)
    ctx = mp.get_context("spawn")
    res, box = ctx.Array("d", size, lock=False), ctx.Array("d", 2, lock=False)
    every = max(1, round(a.rates[0] / a.results_per_s))
    ad.reset()
    ad.start_workers(a.procs)
    mon = Monitor(ad.url, ad.remaining_sql)
    before = _database(mon, tables)
    proc = ctx.Process(target=producer_main, args=(type(ad), ad.url, a, dict(harness.SHARED), res, box, every))
    proc.start()
    while box[0] == 0.0 and proc.is_alive():
        time.sleep(0.05)
    if box[0] == 0.0:
        ad.stop_workers()
        raise SystemExit(f"the producer process exited ({proc.exitcode}) before offering")
    t0, samples = box[0], []
    for k in range(1, math.ceil(a.seconds / a.window) + 1):
        time.sleep(max(0.0, t0 + k * a.window - time.time()))
        samples.append(_sample(mon, tables, t0, proc.pid or 0))
    proc.join(a.timeout)
    count = int(box[1])
    drained = mon.wait_drained(a.timeout, bodies=range(count))
    after = _sample(mon, tables, t0, proc.pid or 0)
    ad.stop_workers()
    mon.close()
    span = min(60.0, a.seconds / 3)
    return {"rate": a.rates[0], "seconds": a.seconds, "window_s": a.window, "procs": a.procs,
            "retention_sec": a.retention_sec, "producer_threads": a.producer_threads,
            "result_every": every, "enqueued": count, "drained": drained,
            "achieved_rate": count / a.seconds, "results_stamped": sum(1 for i in range(count) if res[i] > 0),
            "before": before, "samples": samples, "after_drain": after,
            "windows": _windows(t0, a.seconds, a.window, count, res),
            "first": _segment(t0, 0.0, span, count, res),
            "last": _segment(t0, a.seconds - span, a.seconds, count, res)}
