"""transaction: burn-down of N workflows that each run one transaction on an application
database, for the durable-workflow systems (dbos-workers, dbos).

Each workflow's transaction inserts one row into `bench_tx.tx_items` with the decorator's
defaults (SERIALIZABLE): dbos-workers `SQLAlchemyDatasource.create(url, schema="bench_tx")` +
`@ds.transaction()`, dbos 3.4 the same calls on its own `SQLAlchemyDatasource`. The application
database is each system's bench database (the checkpoint table in schema `bench_tx`, beside the
system schema). Measured like burn-down (harness.scenario_burndown with kind `tx`): rate = N /
(last completion observed - first workflow start); the drain budget applies.
"""

from __future__ import annotations

from typing import Any

from ..runner import Context

KIND = "tx"
Row = tuple[str, dict[str, str]]


def run(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    out: dict[str, Any] = {}
    for system in ctx.systems:
        if not ctx.supports(system, KIND):
            continue
        res = ctx.run(system, "burndown", timeout=a.timeout, n=a.n, kind=KIND, procs=a.procs,
                      threads=a.threads, drain_budget=a.drain_budget)
        out[system] = res
        if "rate" in res:
            ctx.log(f"  {system:14s} 1-transaction {res['rate']:8.0f} wf/s  ({res['done']}/{a.n}"
                    f"{'' if res['drained'] else ' (budget ran out)'} in {res['drain_s']:.1f} s, "
                    f"{res['xact_per_wf']:.1f} xact/wf)")
    return out


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters)."""
    res = results.get("transaction")
    if not res:
        return []
    rates = {s: res.get(s, {}).get("rate") for s in systems}
    cells = {}
    for s in systems:
        got = res.get(s)
        if got is None:
            cells[s] = "n/a"
            continue
        partial = "" if got.get("drained", True) else f"* {got.get('done')}/{got.get('n')}, "
        cells[s] = partial + cell(s, rates[s], rates.get("dbos-workers"), True)
    return [("burn-down 1-transaction (wf/s)", cells),
            ("  transactions per workflow", {s: num(res.get(s, {}).get("xact_per_wf"), "{:.2f}")
                                             for s in systems})]
