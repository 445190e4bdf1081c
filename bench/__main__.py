"""python -m bench [scenarios...] [--n N] [--url URL] [--systems a,b,c]

Runs dbos-workers side by side with dbos, procrastinate and pgqueuer on the same Postgres in
the same run: one fresh database per system (bench_dbw, bench_dbos, ...), each system in its
own venv (bench/.venvs/<system>), one table on stdout, bench/results/<timestamp>.json (and a
.png if matplotlib is importable). See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from . import envs, pg, report
from .peers.harness import burn
from .runner import Context
from .scenarios import ALIASES, DEFAULT, MODULES, ORDER

DATABASES = {"dbos-workers": "bench_dbw", "dbos": "bench_dbos", "procrastinate": "bench_procrastinate",
             "pgqueuer": "bench_pgqueuer"}
RESULTS = envs.BENCH / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", help=f"any of {', '.join(ORDER)} (default: all but soak)")
    p.add_argument("--n", type=int, default=10000, help="workflows per burn-down (default 10000)")
    p.add_argument("--drain-budget", type=float, default=60.0,
                   help="seconds a burn-down may drain before its rate is taken from what finished "
                        "(marked * in the table; default 60)")
    p.add_argument("--url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                   help="any database URL on the server to use; the bench creates its own databases")
    p.add_argument("--systems", default=",".join(envs.SYSTEMS))
    p.add_argument("--procs", type=int, default=os.cpu_count() or 2, help="worker processes (default: cores)")
    p.add_argument("--threads", type=int, default=16, help="concurrency per worker process (default 16)")
    p.add_argument("--samples", type=int, default=200, help="idle-latency samples (default 200)")
    p.add_argument("--latency-budget", type=float, default=40.0, help="max seconds of idle sampling per system")
    p.add_argument("--steady-seconds", type=float, default=5.0)
    p.add_argument("--producer-threads", type=int, default=4,
                   help="steady: threads of the paced producer (default 4; a producer that falls "
                        "behind stops at 3x the window)")
    p.add_argument("--scaling-n", type=int, default=600, help="CPU-bound workflows per scaling run")
    p.add_argument("--scaling-rounds", type=int, default=3,
                   help="interleaved rounds of 1/2/4 processes per system; rows are medians (default 3)")
    p.add_argument("--cpu-ms", type=float, default=5.0, help="CPU per scaling workflow (calibrated)")
    p.add_argument("--pg-seconds", type=int, default=5)
    p.add_argument("--pgcost-n", type=int, default=2000, help="workflows per pgcost run (default 2000)")
    p.add_argument("--timeout", type=float, default=300.0, help="per peer run")
    p.add_argument("--option", action="append", default=[],
                   help="system:key=value passed to one peer (e.g. dbos:poll=0.1)")
    p.add_argument("--inplace", action="store_true", help="dbos-workers with this interpreter, no venv")
    p.add_argument("--db-prefix", default="", help="prefix of the databases this run drops and creates "
                   "(e.g. tx_: tx_bench_dbw, ...), to share a server with another run")
    p.add_argument("--upgrade", action="store_true", help="pip install -U in every venv first")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/<ts>.json)")
    for module in dict.fromkeys(MODULES.values()):  # a scenario's own options (--enqueue-n, --soak-rate, ...)
        getattr(module, "add_arguments", lambda _: None)(p)
    a = p.parse_args(argv)
    a.scenarios = [ALIASES.get(s, s) for s in a.scenarios] or list(DEFAULT)
    unknown = [s for s in a.scenarios if s not in MODULES]
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [s for s in systems if s not in envs.SYSTEMS]
    if unknown or bad:
        p.error(f"unknown scenario(s) {unknown} or system(s) {bad}")
    a.systems = systems
    return a


def calibrate_cpu(ms: float) -> int:
    """Loop count of peers.harness.burn taking `ms` of CPU here (best of 5)."""
    iters, best = 20000, float("inf")
    for _ in range(5):
        t = time.process_time()
        burn(iters)
        best = min(best, time.process_time() - t)
    return max(1000, int(iters * ms / 1000 / max(best, 1e-6)))


def setup(a: argparse.Namespace, log: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    pythons: dict[str, Any] = {}
    versions: dict[str, str] = {}
    for s in a.systems:
        pythons[s] = envs.interpreter(s, inplace=a.inplace, upgrade=a.upgrade, log=log)
        versions[s] = envs.version(pythons[s], s)
    urls = {s: pg.fresh_database(a.url, a.db_prefix + DATABASES[s]) for s in a.systems}
    return pythons, versions, urls


def main(argv: list[str] | None = None) -> int:
    a = parse(sys.argv[1:] if argv is None else argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS / f"{stamp}-logs"
    log_dir.mkdir()
    a.cpu_iters = calibrate_cpu(a.cpu_ms)
    pythons, versions, urls = setup(a, log)
    ctx = Context(systems=a.systems, pythons=pythons, urls=urls, args=a, log_dir=log_dir, log=log)
    meta = {"date": dt.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
            "command": "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv),
            "n": a.n, "drain_budget": a.drain_budget, "procs": a.procs, "threads": a.threads, "cpu_iters": a.cpu_iters,
            "versions": versions, "databases": {s: a.db_prefix + DATABASES[s] for s in a.systems},
            "postgres": pg.server_facts(a.url), "python": sys.version.split()[0],
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    if meta["loadavg_start"][0] > 0.5 * (os.cpu_count() or 1):
        log(f"[warning] load average {meta['loadavg_start'][0]} before the run: other work shares "
            "the cores and the numbers will be noisy")
    started = time.time()
    for name in ORDER:
        if name in a.scenarios:
            log(f"[{name}]")
            ctx.results[name] = MODULES[name].run(ctx)
    meta["elapsed_s"] = round(time.time() - started, 1)
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out = a.out or RESULTS / f"{stamp}.json"
    report.write_json(out, meta, ctx.results)
    print(report.table(ctx.results, meta, a.systems))
    png = out.with_suffix(".png")
    print(f"\nresults: {out}" + (f", chart: {png}" if report.chart(out, png, log) else "")
          + f"; logs: {log_dir}; {meta['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
