"""The async connections dropped under waiting async workflows: every backend of the app's
async pool is terminated while 40 workflows wait in recv_async and while the messages are
consumed; each workflow still receives its message exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dbos_workers import DBOS
from tests.helpers import query

pytestmark = [pytest.mark.chaos]


def terminate_async_backends(pg_url: str, schema: str) -> int:
    rows = query(pg_url, schema, "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
                 "WHERE application_name = 'dbos_workers:app:async' AND pid <> pg_backend_pid()")
    return int(rows[0]["n"])


def test_async_waiters_survive_terminated_connections(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    async def waiter(i: int) -> Any:
        return await DBOS.recv_async("t", timeout_seconds=120)

    launch()
    n = 40

    async def main() -> tuple[list[Any], int]:
        handles = [await DBOS.start_workflow_async(waiter, i) for i in range(n)]
        for _ in range(500):  # until every one waits (its timeout is recorded with the wait)
            rows = await DBOS.list_workflows_async(status="PENDING")
            if len(rows) == n:
                break
            await asyncio.sleep(0.02)
        cut = terminate_async_backends(pg_url, schema)
        for i, h in enumerate(handles):
            await DBOS.send_async(h.workflow_id, i, "t")
            if i == n // 2:
                cut += terminate_async_backends(pg_url, schema)
        return [await h.get_result(timeout=60) for h in handles], cut

    results, cut = asyncio.run(main())
    print(f"\nasync backends terminated: {cut}")
    assert results == list(range(n))
    assert cut > 0
    assert query(pg_url, schema, "SELECT count(*) AS n FROM notifications WHERE consumed") == [{"n": n}]
    assert query(pg_url, schema, "SELECT count(*) AS n FROM operation_outputs WHERE "
                 "function_name = 'DBOS.recv'") == [{"n": n}]
