"""Async workflows and steps in the app process: direct calls and start_workflow_async on
the caller's loop, replay of recorded steps, handles, errors, the refusal of sync APIs on a
running loop, and the management twins. Rows are read back from the system tables."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from dbos_workers import DBOS, SetWorkflowID
from dbos_workers.aio.handle import WorkflowHandleAsync
from dbos_workers.errors import DBOSAwaitedWorkflowCancelledError
from tests.helpers import query

pytestmark = [pytest.mark.integration]


def test_direct_call_checkpoints_async_steps_and_replays_them(launch: Any, pg_url: str,
                                                              schema: str) -> None:
    calls: list[str] = []

    @DBOS.step()
    async def fetch(x: int) -> int:
        calls.append(f"fetch{x}")
        await asyncio.sleep(0.01)
        return x * 10

    @DBOS.step()
    def plain(x: int) -> int:  # a sync step in an async workflow
        calls.append(f"plain{x}")
        return x + 1

    @DBOS.workflow()
    async def flow(x: int) -> list[int]:
        return [await fetch(x), plain(x), await fetch(x + 1)]

    launch()

    async def main() -> tuple[list[int], list[int]]:
        with SetWorkflowID("aw-1"):
            first = await flow(3)
        with SetWorkflowID("aw-1"):
            again = await flow(3)  # finished: its recorded outcome, nothing re-runs
        return first, again

    first, again = asyncio.run(main())
    assert first == again == [30, 4, 40]
    assert calls == ["fetch3", "plain3", "fetch4"]
    rows = query(pg_url, schema, "SELECT status, recovery_attempts FROM workflow_status "
                 "WHERE workflow_uuid = 'aw-1'")
    assert rows == [{"status": "SUCCESS", "recovery_attempts": 1}]
    steps = query(pg_url, schema, "SELECT function_id, function_name FROM operation_outputs "
                  "WHERE workflow_uuid = 'aw-1' ORDER BY function_id")
    assert [(s["function_id"], s["function_name"].rsplit(".", 1)[-1]) for s in steps] == [
        (1, "fetch"), (2, "plain"), (3, "fetch")]


def test_recorded_steps_are_not_rerun_when_a_pending_workflow_runs_again(
        launch: Any, pg_url: str, schema: str) -> None:
    runs: list[int] = []

    @DBOS.step()
    async def once(k: int) -> int:
        runs.append(k)
        return k

    @DBOS.workflow()
    async def flow() -> int:
        return await once(1) + await once(2)

    launch()
    asyncio.run(flow())
    assert sorted(runs) == [1, 2]  # each child ran once: the replay awaited their outcomes
    wid = query(pg_url, schema, "SELECT workflow_uuid FROM workflow_status")[0]["workflow_uuid"]
    # As after a crash after step 1: step 2's record gone, the row PENDING again.
    query(pg_url, schema, "DELETE FROM operation_outputs WHERE workflow_uuid = %s AND function_id = 2", wid)
    query(pg_url, schema, "UPDATE workflow_status SET status = 'PENDING', output = NULL "
          "WHERE workflow_uuid = %s", wid)
    from dbos_workers.aio.runner import resume_context, run
    from dbos_workers.db.records import ClaimedWorkflow

    rt = DBOS._rt()
    owner = query(pg_url, schema, "SELECT owner_token FROM workflow_status WHERE workflow_uuid = %s", wid)
    claimed = ClaimedWorkflow.of({**query(pg_url, schema, "SELECT workflow_uuid, name, class_name, "
                                          "config_name, inputs, queue_name, recovery_attempts, "
                                          "max_recovery_attempts, workflow_deadline_epoch_ms, TRUE AS has_steps, "
                                          "queue_partition_key, authenticated_user, authenticated_roles, "
                                          "assumed_role FROM workflow_status WHERE workflow_uuid = %s",
                                          wid)[0]}, owner[0]["owner_token"])

    async def again() -> int:
        ctx = await resume_context(rt, claimed)
        info = rt.registry.workflows[claimed.name]
        return int(await run(rt, ctx, info, (), {}))

    assert asyncio.run(again()) == 3
    assert runs == [1, 2, 2]


def test_start_workflow_async_runs_on_the_callers_loop(launch: Any) -> None:
    threads: list[str] = []

    @DBOS.step()
    async def where() -> str:
        threads.append(threading.current_thread().name)
        return DBOS.workflow_id or ""

    @DBOS.workflow()
    async def flow(tag: str) -> str:
        await DBOS.sleep_async(0.05)
        return tag + ":" + await where()

    launch()

    async def main() -> tuple[str, str, str]:
        handle = await DBOS.start_workflow_async(flow, "t")
        assert isinstance(handle, WorkflowHandleAsync)
        result = await handle.get_result()
        status = await handle.get_status()
        again = await DBOS.retrieve_workflow_async(handle.workflow_id)
        return result, status.status, await again.get_result()

    result, status, again = asyncio.run(main())
    assert result.startswith("t:") and result == again
    assert status == "SUCCESS"
    assert threads == [threading.current_thread().name]  # the test's own loop thread


def test_async_workflow_error_is_recorded_and_raised(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    async def broken() -> None:
        raise KeyError("nope")

    launch()

    async def main() -> Any:
        handle = await DBOS.start_workflow_async(broken)
        with pytest.raises(KeyError):
            await handle.get_result()
        return handle.workflow_id

    wid = asyncio.run(main())
    assert query(pg_url, schema, "SELECT status FROM workflow_status WHERE workflow_uuid = %s",
                 wid) == [{"status": "ERROR"}]


def test_sync_apis_on_a_running_loop_raise_dboss_error(launch: Any) -> None:
    @DBOS.workflow()
    async def flow() -> None:
        DBOS.sleep(0.01)  # the sync twin, on the loop

    launch()

    async def main() -> list[str]:
        words = []
        for call in (lambda: DBOS.sleep(0.01), lambda: DBOS.recv(), lambda: DBOS.get_result("x"),
                     lambda: DBOS.list_workflows(), lambda: DBOS.send("x", 1)):
            with pytest.raises(RuntimeError) as info:
                call()
            words.append(str(info.value))
        with pytest.raises(RuntimeError):
            await flow()
        return words

    words = asyncio.run(main())
    assert words[0] == "sleep() was called while an event loop is running. Use await sleep_async(...) instead."
    assert words[3].startswith("list_workflows() was called") and "list_workflows_async" in words[3]
    assert len(DBOS.list_workflows()) == 1  # off the loop the sync twin works


def test_management_twins(launch: Any, pg_url: str, schema: str) -> None:
    release = asyncio.Event()

    @DBOS.step()
    async def one() -> int:
        return 1

    @DBOS.workflow()
    async def waits() -> int:
        await one()
        return await DBOS.recv_async("go", timeout_seconds=30) or 0

    launch()

    async def main() -> tuple[Any, ...]:
        handle = await DBOS.start_workflow_async(waits)
        wid = handle.workflow_id
        for _ in range(500):
            if await DBOS.list_workflow_steps_async(wid):
                break
            await asyncio.sleep(0.01)
        steps = await DBOS.list_workflow_steps_async(wid)
        listed = await DBOS.list_workflows_async(workflow_ids=[wid])
        status = await DBOS.get_workflow_status_async(wid)
        await DBOS.cancel_workflow_async(wid)
        with pytest.raises(DBOSAwaitedWorkflowCancelledError):
            await asyncio.wait_for(handle.get_result(), 20)
        release.set()
        return steps, listed, status, await DBOS.get_workflow_status_async("missing")

    steps, listed, status, missing = asyncio.run(main())
    assert [(s["function_id"], s["output"]) for s in steps][:1] == [(1, 1)]
    assert [w.status for w in listed] == ["PENDING"] and status is not None
    assert missing is None
    assert query(pg_url, schema, "SELECT status FROM workflow_status WHERE name LIKE '%%waits'") == [
        {"status": "CANCELLED"}]


def test_sync_start_workflow_of_an_async_workflow_runs_on_the_process_loop(launch: Any) -> None:
    @DBOS.workflow()
    async def flow(x: int) -> tuple[int, str]:
        await DBOS.sleep_async(0.01)
        return x * 2, threading.current_thread().name

    launch()
    handle = DBOS.start_workflow(flow, 21)
    assert handle.get_result(timeout=30) == (42, "dbos-app-loop")
    assert handle.get_status().status == "SUCCESS"


def test_async_datasource_transaction_in_an_async_workflow(launch: Any, pg_url: str, schema: str) -> None:
    import sqlalchemy as sa

    from dbos_workers.datasource import AsyncSQLAlchemyDatasource

    ads = asyncio.run(AsyncSQLAlchemyDatasource.create(pg_url, schema=schema))
    calls: list[int] = []

    @ads.transaction()
    async def add(order_id: int) -> int:
        calls.append(order_id)
        session = ads.sql_session()
        await session.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{schema}".async_orders (id INT)'))
        await session.execute(sa.text(f'INSERT INTO "{schema}".async_orders VALUES (:id)'), {"id": order_id})
        return order_id * 2

    @DBOS.workflow()
    async def flow(order_id: int) -> int:
        return await add(order_id) + await add(order_id + 1)

    launch()
    try:
        with SetWorkflowID("async-tx"):
            assert asyncio.run(flow(4)) == 18
        with SetWorkflowID("async-tx"):
            assert asyncio.run(flow(4)) == 18
    finally:
        ads.close()
    assert calls == [4, 5]
    assert query(pg_url, schema, "SELECT id FROM async_orders ORDER BY id") == [{"id": 4}, {"id": 5}]
    names = [r["function_name"].rsplit(".", 1)[-1] for r in query(
        pg_url, schema, "SELECT function_name FROM operation_outputs WHERE workflow_uuid = 'async-tx' "
        "ORDER BY function_id")]
    assert names == ["add", "add"]


def test_queue_twins(launch: Any, pg_url: str, schema: str) -> None:
    launch()

    async def main() -> tuple[Any, ...]:
        q = await DBOS.register_queue_async("aq", worker_concurrency=3, polling_interval_sec=0.5)
        before = (await q.get_worker_concurrency_async(), await q.get_concurrency_async(),
                  await q.get_polling_interval_sec_async())
        await q.set_global_concurrency_async(7)
        await q.set_limiter_async({"limit": 5, "period": 2.0})
        with pytest.raises(ValueError):
            await q.set_worker_concurrency_async(-1)
        again = await DBOS.retrieve_queue_async("aq")
        assert again is not None
        after = (await again.get_concurrency_async(), await again.get_limiter_async())
        names = [x.name for x in await DBOS.list_queues_async()]
        with pytest.raises(RuntimeError, match="register_queue_async"):
            DBOS.register_queue("nope")
        await DBOS.delete_queue_async("aq")
        return before, after, names, await DBOS.retrieve_queue_async("aq")

    before, after, names, gone = asyncio.run(main())
    assert before == (3, None, 0.5)
    assert after == (7, {"limit": 5, "period": 2.0})
    assert "aq" in names and gone is None
    assert query(pg_url, schema, "SELECT count(*) AS n FROM queues WHERE name = 'aq'") == [{"n": 0}]


def test_workflow_timeout_cancels_an_async_workflow_at_its_next_operation(launch: Any, pg_url: str,
                                                                          schema: str) -> None:
    from dbos_workers import SetWorkflowTimeout

    ticks: list[int] = []

    @DBOS.step()
    async def tick(k: int) -> int:
        ticks.append(k)
        await asyncio.sleep(0.05)
        return k

    @DBOS.workflow()
    async def forever() -> None:
        for k in range(10_000):
            await tick(k)

    launch()

    async def main() -> str:
        with SetWorkflowTimeout(0.5):
            handle = await DBOS.start_workflow_async(forever)
        with pytest.raises(DBOSAwaitedWorkflowCancelledError):
            await handle.get_result(timeout=30)
        return handle.workflow_id

    wid = asyncio.run(main())
    assert 1 <= len(ticks) < 500
    assert query(pg_url, schema, "SELECT status FROM workflow_status WHERE workflow_uuid = %s",
                 wid) == [{"status": "CANCELLED"}]


def test_concurrent_steps_get_ids_in_call_order_and_all_checkpoints_land(launch: Any, pg_url: str,
                                                                        schema: str) -> None:
    """asyncio.gather of steps: each step's id is drawn when it is called (the order a replay
    draws them in), whatever each one awaits first; every step's checkpoint is written."""

    @DBOS.step()
    async def s(k: int) -> int:
        await asyncio.sleep(0.01 * (5 - k % 5))
        return k

    runs: list[int] = []

    @DBOS.workflow()
    async def child(k: int) -> int:
        runs.append(k)
        await asyncio.sleep(0.01 * (3 - k))
        return k * 100

    @DBOS.workflow()
    async def fan() -> list[int]:
        first = await s(0)  # its checkpoint is deferred: the next step writes it first
        rest = await asyncio.gather(*(s(k) for k in range(1, 9)))
        kids = await asyncio.gather(child(1), child(2))
        return [first, *rest, *kids]

    launch()
    with SetWorkflowID("fan-1"):
        assert asyncio.run(fan()) == [*range(9), 100, 200]
    rt = DBOS._rt()
    rows = query(pg_url, schema, "SELECT function_id, function_name, output, child_workflow_id FROM "
                 "operation_outputs WHERE workflow_uuid = 'fan-1' ORDER BY function_id")
    assert [(r["function_id"], rt.serializer.deserialize(r["output"])) for r in rows[:9]] == [
        (k + 1, k) for k in range(9)]
    # child(1) start = 10, its getResult = 11, child(2) start = 12, its getResult = 13
    assert [(r["function_id"], r["function_name"].split(".<locals>.")[-1], r["child_workflow_id"])
            for r in rows[9:]][::2] == [(10, "child", "fan-1-10"), (12, "child", "fan-1-12")]
    assert [(r["function_id"], r["function_name"]) for r in rows[9:]][1::2] == [
        (11, "DBOS.getResult"), (13, "DBOS.getResult")]
    # As after a crash: PENDING again; the replay draws the same ids (else DBOSUnexpectedStepError)
    query(pg_url, schema, "UPDATE workflow_status SET status = 'PENDING', output = NULL "
          "WHERE workflow_uuid = 'fan-1'")
    from dbos_workers.aio.runner import resume_context, run
    from dbos_workers.db.records import ClaimedWorkflow

    row = query(pg_url, schema, "SELECT workflow_uuid, name, class_name, config_name, inputs, queue_name, "
                "recovery_attempts, max_recovery_attempts, workflow_deadline_epoch_ms, TRUE AS has_steps, "
                "queue_partition_key, authenticated_user, authenticated_roles, assumed_role, owner_token "
                "FROM workflow_status WHERE workflow_uuid = 'fan-1'")[0]
    claimed = ClaimedWorkflow.of(row, row["owner_token"])

    async def again() -> Any:
        ctx = await resume_context(rt, claimed)
        return await run(rt, ctx, rt.registry.workflows[claimed.name], (), {})

    assert asyncio.run(again()) == [*range(9), 100, 200]
    assert sorted(runs) == [1, 2]  # each child ran once: the replay awaited their outcomes
