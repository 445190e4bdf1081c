"""What n workflows of one kind cost the database (harness scenario `pgcost`, driven by
bench/scenarios/pgcost.py): this database's commits and rows written, the server's WAL and
Postgres CPU, the bytes kept, and the pool's footprint once drained."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from harness import Adapter, Monitor, cpu_delta, cpu_ticks, produce


def _db_cost(conn: Any) -> dict[str, float]:
    """This database's commits and rows written (its backends report them when they end) and
    the server's WAL position, and the bytes of every table and index of this database."""
    db = conn.execute("SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted "
                      "FROM pg_stat_database WHERE datname = current_database()").fetchone()
    wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')").fetchone()[0]
    size = conn.execute("SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg_toast%'").fetchone()[0]
    return {"xact": float(db[0]), "ins": float(db[1]), "upd": float(db[2]), "del": float(db[3]),
            "wal_bytes": float(wal), "bytes": float(size)}


def _host_footprint(conn: Any) -> dict[str, Any]:
    """Connections to this database (without the monitor's) and the workers' resident memory."""
    rows = conn.execute("SELECT COALESCE(NULLIF(application_name, ''), backend_type), count(*) "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 1").fetchall()
    me, rss = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry)
        while pid > 1 and pid != me:
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                break
        if pid == me and "VmRSS" in fields:
            rss.append(int(fields["VmRSS"].split()[0]) / 1024)
    return {"connections": {str(k): int(v) for k, v in rows}, "connections_total": sum(int(v) for _, v in rows),
            "rss_mb": sorted(round(r, 1) for r in rss)}


def scenario_pgcost(ad: Adapter, a: argparse.Namespace) -> dict[str, Any]:
    """What n workflows of one kind cost the database, enqueue to completion: commits, WAL,
    server CPU, rows written and bytes kept, per workflow; and the pool's footprint."""
    n = a.n
    ad.reset()
    time.sleep(0.5)
    mon = Monitor(ad.url, ad.remaining_sql)
    c0, cpu0 = _db_cost(mon.conn), cpu_ticks()
    ad.open_producer()
    produce(ad, a.kind, list(range(n)), threads=a.producer_threads)
    ad.start_workers(a.procs)
    drained = mon.wait_drained(a.timeout, bodies=range(n))
    footprint = _host_footprint(mon.conn)
    cpu1 = cpu_ticks()
    ad.stop_workers()
    ad.close_producer()
    time.sleep(1.0)  # backends exit and report their statistics
    c1 = _db_cost(mon.conn)
    polls = mon.polls
    mon.close()
    cpu = cpu_delta(cpu0, cpu1)
    per = {k: (c1[k] - c0[k]) / n for k in c1}
    return {"kind": a.kind, "n": n, "procs": a.procs, "drained": drained,
            "commits_per_wf": (c1["xact"] - c0["xact"] - polls - 4) / n,
            "wal_bytes_per_wf": per["wal_bytes"], "rows_written_per_wf": per["ins"] + per["upd"] + per["del"],
            "rows_inserted_per_wf": per["ins"], "rows_updated_per_wf": per["upd"],
            "rows_deleted_per_wf": per["del"], "bytes_kept_per_wf": per["bytes"],
            "pg_cpu_us_per_wf": 1e6 * cpu["postgres_cpu_s"] / n,
            "python_cpu_us_per_wf": 1e6 * (cpu["workers_cpu_s"] + cpu["self_cpu_s"]) / n,
            **footprint}
