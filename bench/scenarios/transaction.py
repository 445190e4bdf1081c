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
from .burndown import rate_cells, run_kind

KIND = "tx"
Row = tuple[str, dict[str, str]]


def run(ctx: Context) -> dict[str, Any]:
    return run_kind(ctx, KIND, "1-transaction")


def rows(results: dict[str, Any], systems: list[str], cell: Any, num: Any) -> list[Row]:
    """The table rows (cell/num: report's formatters)."""
    res = results.get("transaction")
    if not res:
        return []
    cells = rate_cells(res, systems, cell)
    return [("burn-down 1-transaction (wf/s)", cells),
            ("  transactions per workflow", {s: num(res.get(s, {}).get("xact_per_wf"), "{:.2f}")
                                             for s in systems})]
