"""pgcost: what one workflow costs the database, enqueue to completion, for 0-, 1- and 3-step
workflows (job queues: one job), each system on its own fresh database in the same run.

Per workflow: commits (pg_stat_database, this database only, less the monitor's own queries),
WAL bytes (pg_current_wal_lsn delta: the whole server, so run it on a quiet server), Postgres
CPU (utime+stime of every `postgres` process from /proc: the whole server too), rows written
(tup_inserted + tup_updated + tup_deleted of this database) and bytes kept (growth of every
table and index of the database while the run's rows are retained). Per host: connections to
the database once drained (by application_name, else backend type), RSS of each process the
run started (producer excluded: it is the harness itself) and Python CPU (producer + pool).
N = --pgcost-n (default 2000), --procs worker processes.
"""

from __future__ import annotations

from typing import Any

from ..runner import Context

KINDS = ("0", "1", "3")
Row = tuple[str, dict[str, str]]
FIGURES = (("commits_per_wf", "commits", "{:.2f}"), ("wal_bytes_per_wf", "WAL bytes", "{:.0f}"),
           ("pg_cpu_us_per_wf", "Postgres CPU us", "{:.0f}"), ("rows_written_per_wf", "rows written", "{:.2f}"),
           ("bytes_kept_per_wf", "bytes kept", "{:.0f}"), ("python_cpu_us_per_wf", "Python CPU us", "{:.0f}"))


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        out[system] = {}
        for kind in KINDS:
            if not ctx.supports(system, kind):
                continue
            res = ctx.run(system, "pgcost", timeout=a.timeout, n=a.pgcost_n, kind=kind, procs=a.procs,
                          threads=a.threads)
            out[system][kind] = res
            if "commits_per_wf" in res:
                ctx.log(f"  {system:14s} {kind}-step  " + ", ".join(
                    f"{label} {fmt.format(res[key])}" for key, label, fmt in FIGURES)
                    + f"; connections {res['connections_total']}, RSS MB {res['rss_mb']}")
    return out


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    res = results.get("pgcost")
    if not res:
        return []
    out: list[Row] = []
    for kind in KINDS:
        got = {s: res.get(s, {}).get(kind) for s in systems}
        if not any(got.values()):
            continue
        for key, label, fmt in FIGURES:
            base = (got.get("dbos-workers") or {}).get(key)
            out.append((f"pgcost {kind}-step: {label}/wf",
                        {s: "n/a" if g is None else cell(s, g.get(key), base, False, fmt)
                         for s, g in got.items()}))
    footprint = {s: next((g for g in (res.get(s) or {}).values() if g), None) for s in systems}
    out.append(("pgcost: connections once drained",
                {s: "-" if g is None else num(g.get("connections_total")) for s, g in footprint.items()}))
    out.append(("pgcost: RSS per process (MB, max)",
                {s: "-" if g is None or not g.get("rss_mb") else num(max(g["rss_mb"]), "{:.0f}")
                 for s, g in footprint.items()}))
    return out
