"""pg limit: what this Postgres can commit, measured with pgbench on the same server.

A custom script inserts one row per transaction (autocommit INSERT into a bigserial table),
with -c 2 and -c 4 clients for --pg-seconds (5) each; the best tps is the server's commit rate.
A workflow needs at least 1 claim + k step checkpoints + 1 completion commits (enqueue excluded:
burn-down pre-enqueues), so its ceiling is tps / (k + 2): 2 commits for 0 steps, 3 for 1, 5 for 3.
"""

from __future__ import annotations

from typing import Any

from .. import pg
from ..runner import Context

CLIENTS = (2, 4)


def min_commits(steps: int) -> int:
    return 1 + steps + 1


def run(ctx: Context) -> dict[str, Any]:
    url = pg.fresh_database(ctx.args.url, ctx.args.db_prefix + "bench_pgbench")  # --db-prefix: not a shared one
    by_clients = {}
    for c in CLIENTS:
        by_clients[c] = pg.pgbench_insert_tps(url, c, ctx.args.pg_seconds, ctx.log_dir)
        ctx.log(f"  pgbench -c {c} -T {ctx.args.pg_seconds}: {by_clients[c]:.0f} tps")
    best = max(by_clients.values())
    return {"tps_by_clients": by_clients, "tps": best,
            "ceiling_wf_per_s": {str(k): best / min_commits(k) for k in (0, 1, 3)}}
