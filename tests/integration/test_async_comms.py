"""Async messages, events, sleeps, streams, asyncio_wait and preemptible/timed-out steps:
each wait is woken by NOTIFY on the caller's loop, recorded, and replayed."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from dbos_workers import DBOS, SetWorkflowID
from dbos_workers.errors import DBOSAwaitedWorkflowCancelledError, DBOSStepTimeoutError
from tests.helpers import query

pytestmark = [pytest.mark.integration]


def test_send_recv_and_events_between_async_workflows(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.workflow()
    async def receiver() -> list[Any]:
        await DBOS.set_event_async("ready", True)
        got = [await DBOS.recv_async("t", timeout_seconds=30), await DBOS.recv_async("t", timeout_seconds=30)]
        timed_out = await DBOS.recv_async("never", timeout_seconds=0.2)
        await DBOS.set_event_async("done", got)
        return [*got, timed_out]

    launch()

    async def main() -> tuple[Any, ...]:
        handle = await DBOS.start_workflow_async(receiver)
        ready = await DBOS.get_event_async(handle.workflow_id, "ready", timeout_seconds=30)
        began = time.monotonic()
        await DBOS.send_async(handle.workflow_id, "a", "t")
        await DBOS.send_async(handle.workflow_id, "b", "t", idempotency_key="k1")
        await DBOS.send_async(handle.workflow_id, "b", "t", idempotency_key="k1")  # delivered once
        result = await handle.get_result()
        done = await DBOS.get_event_async(handle.workflow_id, "done", timeout_seconds=5)
        missing = await DBOS.get_event_async(handle.workflow_id, "nope", timeout_seconds=0.1)
        return ready, result, done, missing, time.monotonic() - began

    ready, result, done, missing, took = asyncio.run(main())
    assert ready is True
    assert result == ["a", "b", None] and done == ["a", "b"] and missing is None
    assert took < 20  # NOTIFY-woken (the backstop alone would also pass: no timing claim)
    names = [r["function_name"] for r in query(pg_url, schema, "SELECT function_name FROM "
             "operation_outputs ORDER BY function_id")]
    assert names == ["DBOS.setEvent", "DBOS.recv", "DBOS.sleep", "DBOS.recv", "DBOS.sleep",
                     "DBOS.recv", "DBOS.sleep", "DBOS.setEvent"]
    assert query(pg_url, schema, "SELECT count(*) AS n FROM notifications WHERE NOT consumed") == [{"n": 0}]
    assert query(pg_url, schema, "SELECT count(*) AS n FROM notifications") == [{"n": 2}]  # "b" once


def test_sleep_async_is_durable_and_a_replay_sleeps_only_what_is_left(launch: Any, pg_url: str,
                                                                       schema: str) -> None:
    @DBOS.workflow()
    async def napper() -> float:
        began = time.monotonic()
        await DBOS.sleep_async(0.3)
        return time.monotonic() - began

    launch()
    with SetWorkflowID("nap-1"):
        slept = asyncio.run(napper())
    assert slept >= 0.29
    row = query(pg_url, schema, "SELECT function_name, completed_at_epoch_ms - started_at_epoch_ms AS ms "
                "FROM operation_outputs WHERE workflow_uuid = 'nap-1'")
    assert row[0]["function_name"] == "DBOS.sleep" and 250 <= row[0]["ms"] <= 400


def test_preemptible_step_is_cancelled_at_once_and_timeout_raises(launch: Any, pg_url: str,
                                                                   schema: str) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    @DBOS.step(preemptible=True)
    async def long_call() -> str:
        started.set()
        await asyncio.sleep(60)
        finished.append("long")
        return "never"

    @DBOS.step(timeout_seconds=0.2)
    async def too_slow() -> str:
        await asyncio.sleep(60)
        return "never"

    @DBOS.workflow()
    async def preempted() -> str:
        return await long_call()

    @DBOS.workflow()
    async def timed() -> str:
        try:
            return await too_slow()
        except DBOSStepTimeoutError as exc:
            return f"timeout:{exc.step_name.rsplit('.', 1)[-1]}"

    launch()

    async def main() -> tuple[float, str]:
        handle = await DBOS.start_workflow_async(preempted)
        await asyncio.wait_for(started.wait(), 20)
        began = time.monotonic()
        await DBOS.cancel_workflow_async(handle.workflow_id)
        with pytest.raises(DBOSAwaitedWorkflowCancelledError):
            await handle.get_result()
        return time.monotonic() - began, await timed()

    took, timed_out = asyncio.run(main())
    assert took < 30 and not finished
    assert timed_out == "timeout:too_slow"
    assert query(pg_url, schema, "SELECT status FROM workflow_status WHERE name LIKE '%%preempted'") == [
        {"status": "CANCELLED"}]
    rows = query(pg_url, schema, "SELECT function_name FROM operation_outputs o JOIN workflow_status w "
                 "USING (workflow_uuid) WHERE w.name LIKE '%%preempted'")
    assert rows == []  # a preempted step records nothing


def test_async_step_retries_then_succeeds(launch: Any, pg_url: str, schema: str) -> None:
    attempts: list[int] = []

    @DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0.01)
    async def flaky() -> int:
        attempts.append(DBOS.step_status.current_attempt)
        if len(attempts) < 3:
            raise ValueError("again")
        return len(attempts)

    @DBOS.workflow()
    async def flow() -> tuple[int, bool]:
        total = await flaky() + await DBOS.run_step_async({"name": "adder"}, _add, 1, 2)
        # a sync function as a step runs in a thread, off the loop (as DBOS)
        where = await DBOS.run_step_async({"name": "where"}, lambda: threading.current_thread().name)
        return total, where != threading.current_thread().name

    launch()
    with SetWorkflowID("retry-1"):
        assert asyncio.run(flow()) == (6, True)
    assert attempts == [0, 1, 2]
    names = [r["function_name"] for r in query(pg_url, schema, "SELECT function_name FROM "
             "operation_outputs WHERE workflow_uuid = 'retry-1' ORDER BY function_id")]
    assert [n.rsplit(".", 1)[-1] for n in names] == ["flaky", "adder", "where"]


async def _add(a: int, b: int) -> int:
    return a + b


def test_asyncio_wait_records_which_tasks_were_done(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.step()
    async def quick(k: int) -> int:
        await asyncio.sleep(0.01 * k)
        return k

    @DBOS.workflow()
    async def race() -> list[int]:
        done, pending = await DBOS.asyncio_wait([quick(1), asyncio.sleep(30)], timeout=10,
                                                return_when=asyncio.FIRST_COMPLETED)
        for p in pending:
            p.cancel()
        return sorted(d.result() for d in done)

    launch()
    with SetWorkflowID("race-1"):
        assert asyncio.run(race()) == [1]
    rows = query(pg_url, schema, "SELECT function_name, output FROM operation_outputs WHERE "
                 "workflow_uuid = 'race-1' ORDER BY function_id")
    assert [r["function_name"].rsplit(".", 1)[-1] for r in rows] == ["asyncio_wait", "quick"]
    rt = DBOS._rt()
    assert rt.serializer.deserialize(rows[0]["output"]) == [0]  # the index of the done task
    with SetWorkflowID("race-1"):
        assert asyncio.run(race()) == [1]  # replayed from its outcome


def test_read_stream_async_yields_values_until_closed(launch: Any) -> None:
    @DBOS.workflow()
    def writer(n: int) -> int:
        for i in range(n):
            DBOS.write_stream("s", i)
        DBOS.close_stream("s")
        return n

    launch()
    handle = DBOS.start_workflow(writer, 5)

    async def main() -> list[int]:
        return [v async for v in DBOS.read_stream_async(handle.workflow_id, "s", timeout_seconds=30)]

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert handle.get_result() == 5


def test_bulk_events_stream_writes_and_wait_first_twins(launch: Any, pg_url: str, schema: str) -> None:
    from dbos_workers.messages import SendMessage

    @DBOS.workflow()
    async def collector(n: int) -> list[Any]:
        got = [await DBOS.recv_async("t", timeout_seconds=30) for _ in range(n)]
        await DBOS.set_event_async("a", 1)
        await DBOS.set_event_async("b", got)
        for v in got:
            await DBOS.write_stream_async("out", v)
        await DBOS.close_stream_async("out")
        return got

    @DBOS.workflow()
    async def slowpoke() -> str:
        await DBOS.sleep_async(30)
        return "late"

    launch()

    async def main() -> tuple[Any, ...]:
        slow = await DBOS.start_workflow_async(slowpoke)
        handle = await DBOS.start_workflow_async(collector, 3)
        await DBOS.send_bulk_async([SendMessage(handle.workflow_id, i, "t") for i in range(3)])
        first = await DBOS.wait_first_async([slow, handle])
        streamed = [v async for v in DBOS.read_stream_async(handle.workflow_id, "out", timeout_seconds=10)]
        events = await DBOS.get_all_events_async(handle.workflow_id)
        await DBOS.cancel_workflow_async(slow.workflow_id)
        return first.workflow_id == handle.workflow_id, await handle.get_result(), streamed, events

    first_is_collector, result, streamed, events = asyncio.run(main())
    assert first_is_collector
    assert result == [0, 1, 2] and streamed == [0, 1, 2]
    assert events == {"a": 1, "b": [0, 1, 2]}
    names = [r["function_name"] for r in query(
        pg_url, schema, "SELECT function_name FROM operation_outputs o JOIN workflow_status w "
        "USING (workflow_uuid) WHERE w.name LIKE '%%collector' ORDER BY function_id")]
    assert names[-4:] == ["DBOS.writeStream"] * 3 + ["DBOS.closeStream"]


def test_an_async_reading_workflow_records_each_value_and_replays_them(launch: Any, pg_url: str,
                                                                        schema: str) -> None:
    @DBOS.workflow()
    def writer(n: int) -> int:
        for i in range(n):
            DBOS.write_stream("s", i)
        DBOS.close_stream("s")
        return n

    @DBOS.workflow()
    async def reader(source: str) -> list[int]:
        return [v async for v in DBOS.read_stream_async(source, "s", timeout_seconds=30)]

    launch()
    source = DBOS.start_workflow(writer, 3)

    async def main() -> tuple[list[int], Any, Any]:
        with SetWorkflowID("reader-1"):
            first = await reader(source.workflow_id)
        third = await DBOS.read_stream_offset_async(source.workflow_id, "s", 2, timeout_seconds=10)
        with pytest.raises(Exception) as info:
            await DBOS.read_stream_offset_async(source.workflow_id, "s", 7, timeout_seconds=10)
        return first, third, info.value

    first, third, past_end = asyncio.run(main())
    assert first == [0, 1, 2] and third == 2
    assert type(past_end).__name__ == "DBOSStreamTimeoutError"
    rows = query(pg_url, schema, "SELECT function_name FROM operation_outputs WHERE workflow_uuid = "
                 "'reader-1' ORDER BY function_id")
    assert [r["function_name"] for r in rows] == ["DBOS.readStream"] * 4  # 3 values and the end
    # As after a crash: the row PENDING again, its recorded reads replayed (the stream is gone).
    query(pg_url, schema, "DELETE FROM streams WHERE workflow_uuid = %s", source.workflow_id)
    query(pg_url, schema, "UPDATE workflow_status SET status = 'PENDING', output = NULL "
          "WHERE workflow_uuid = 'reader-1'")
    from dbos_workers.aio.runner import resume_context, run
    from dbos_workers.db.records import ClaimedWorkflow

    rt = DBOS._rt()
    row = query(pg_url, schema, "SELECT workflow_uuid, name, class_name, config_name, inputs, queue_name, "
                "recovery_attempts, max_recovery_attempts, workflow_deadline_epoch_ms, TRUE AS has_steps, "
                "queue_partition_key, authenticated_user, authenticated_roles, assumed_role, owner_token "
                "FROM workflow_status WHERE workflow_uuid = 'reader-1'")[0]
    claimed = ClaimedWorkflow.of(row, row["owner_token"])

    async def again() -> Any:
        ctx = await resume_context(rt, claimed)
        return await run(rt, ctx, rt.registry.workflows[claimed.name], (source.workflow_id,), {})

    assert asyncio.run(again()) == [0, 1, 2]
