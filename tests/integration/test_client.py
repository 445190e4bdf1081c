"""DBOSClient against a launched pool: enqueue by name with options, results, messages and
events, management, async twins; it never migrates and registers no executor."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from dbos_workers import DBOS, Queue
from dbos_workers.client import DBOSClient, EnqueueOptions
from dbos_workers.errors import (
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSQueueDeduplicatedError,
    DBOSSchemaMissingError,
)
from tests.helpers import query, wait_until

pytestmark = pytest.mark.integration


def _define() -> None:
    Queue("cq")

    @DBOS.workflow(name="client-add")
    def add(a: int, b: int = 0) -> int:
        return a + b

    @DBOS.workflow(name="client-echo")
    def echo() -> str:
        DBOS.set_event("ready", "yes")
        return str(DBOS.recv("in", timeout_seconds=60))


@pytest.fixture
def client(launch: Any, pg_url: str, schema: str) -> Iterator[DBOSClient]:
    _define()
    launch(worker_processes=1)
    c = DBOSClient(pg_url, dbos_system_schema=schema)
    yield c
    c.destroy()


def test_enqueue_by_name_with_options(client: DBOSClient, pg_url: str, schema: str) -> None:
    h = client.enqueue({"workflow_name": "client-add", "queue_name": "cq"}, 2, b=3)
    assert h.get_result(timeout=60) == 5
    opts: EnqueueOptions = {"workflow_name": "client-add", "queue_name": "cq", "workflow_id": "c-1",
                            "priority": 4, "app_version": None, "workflow_timeout": 30,  # type: ignore[typeddict-item]
                            "deduplication_id": "d-1", "attributes": {"k": "v"}, "authenticated_user": "ann"}
    assert client.enqueue(opts, 10).get_result(timeout=60) == 10
    row = query(pg_url, schema, "SELECT priority, workflow_timeout_ms, attributes, authenticated_user, "
                "queue_name, application_name FROM workflow_status WHERE workflow_uuid = 'c-1'")[0]
    assert row == {"priority": 4, "workflow_timeout_ms": 30_000, "attributes": {"k": "v"},
                   "authenticated_user": "ann", "queue_name": "cq", "application_name": "test-app"}
    again = client.enqueue({"workflow_name": "client-add", "queue_name": "cq", "workflow_id": "c-1"}, 99)
    assert again.get_result(timeout=10) == 10  # idempotent on the id


def test_delayed_and_deduplicated(client: DBOSClient, pg_url: str, schema: str) -> None:
    h = client.enqueue({"workflow_name": "client-add", "queue_name": "cq", "delay_seconds": 1.5}, 1)
    assert client.list_workflows(workflow_ids=[h.workflow_id])[0].status == "DELAYED"
    assert h.get_result(timeout=60) == 1
    client.enqueue({"workflow_name": "never-registered", "queue_name": "cq", "deduplication_id": "x"})
    with pytest.raises(DBOSQueueDeduplicatedError):
        client.enqueue({"workflow_name": "never-registered", "queue_name": "cq", "deduplication_id": "x"})
    holder = client.enqueue({"workflow_name": "never-registered", "queue_name": "cq", "deduplication_id": "x",
                             "duplication_policy": "return-existing", "workflow_id": "other"})
    assert holder.workflow_id != "other"


def test_unknown_name_waits_parked_and_visible(client: DBOSClient) -> None:
    h = client.enqueue({"workflow_name": "nobody-has-this", "queue_name": "cq"}, 1)
    assert client.enqueue({"workflow_name": "client-add", "queue_name": "cq"}, 1).get_result(timeout=60) == 1

    def parked() -> bool:
        return any(q.name == "cq" and q.parked == 1 for q in client.queue_summary())

    wait_until(parked, 30)
    assert client.list_workflows(workflow_ids=[h.workflow_id])[0].status == "ENQUEUED"


def test_send_get_event_cancel_resume(client: DBOSClient) -> None:
    h = client.enqueue({"workflow_name": "client-echo", "queue_name": "cq"})
    assert client.get_event(h.workflow_id, "ready", timeout_seconds=60) == "yes"
    client.send(h.workflow_id, "hello", topic="in")
    assert h.get_result(timeout=60) == "hello"
    with pytest.raises(DBOSNonExistentWorkflowError):
        client.retrieve_workflow("missing")
    with pytest.raises(DBOSNonExistentWorkflowError):
        client.cancel_workflow("missing")
    assert client.retrieve_workflow(h.workflow_id).get_status().status == "SUCCESS"
    steps = client.list_workflow_steps(h.workflow_id)
    assert [s["function_name"] for s in steps][:1] == ["DBOS.setEvent"]


def test_async_twins(client: DBOSClient) -> None:
    async def main() -> tuple[int, int, int]:
        h = await client.enqueue_async({"workflow_name": "client-add", "queue_name": "cq"}, 4, 5)
        result = await h.get_result(timeout=60)
        listed = await client.list_workflows_async(workflow_ids=[h.workflow_id])
        steps = await client.list_workflow_steps_async(h.workflow_id)
        fork = await client.fork_workflow_async(h.workflow_id, 1)
        forked = await fork.get_result(timeout=60)
        return result, len(listed) + len(steps), forked

    assert asyncio.run(main()) == (9, 1, 9)


def test_client_holds_no_lease_and_never_migrates(client: DBOSClient, pg_url: str, schema: str) -> None:
    before = query(pg_url, schema, "SELECT count(*) AS n FROM executors")[0]["n"]
    other = DBOSClient(pg_url, dbos_system_schema=schema)
    other.enqueue({"workflow_name": "client-add", "queue_name": "cq"}, 1).get_result(timeout=60)
    other.destroy()
    assert query(pg_url, schema, "SELECT count(*) AS n FROM executors")[0]["n"] == before
    with pytest.raises(DBOSSchemaMissingError):
        DBOSClient(pg_url, dbos_system_schema="no_such_schema_here")
    assert query(pg_url, "public", "SELECT count(*) AS n FROM information_schema.schemata "
                 "WHERE schema_name = 'no_such_schema_here'")[0]["n"] == 0


def test_enqueue_options_are_checked(client: DBOSClient) -> None:
    with pytest.raises(DBOSException, match="shard_key"):
        client.enqueue({"workflow_name": "client-add", "queue_name": "cq", "shard_key": "s"})
    with pytest.raises(DBOSException, match="no key 'bogus'"):
        client.enqueue({"workflow_name": "client-add", "queue_name": "cq", "bogus": 1})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(DBOSException, match="queue_name"):
        client.enqueue({"workflow_name": "client-add"})  # type: ignore[typeddict-item]


def test_enqueue_an_instance_method_by_class_and_instance_name(launch: Any, pg_url: str, schema: str) -> None:
    from dbos_workers import DBOSConfiguredInstance

    Queue("cq-inst")

    @DBOS.dbos_class("ClientShop")
    class Shop(DBOSConfiguredInstance):
        def __init__(self, name: str, multiplier: int) -> None:
            self.multiplier = multiplier
            super().__init__(name)

        @DBOS.workflow(name="shop-times")
        def times(self, x: int) -> int:
            return self.multiplier * x

    Shop("shop-2", 2)
    Shop("shop-7", 7)
    launch(worker_processes=1)
    c = DBOSClient(pg_url, dbos_system_schema=schema)
    try:
        results = [c.enqueue({"workflow_name": "shop-times", "queue_name": "cq-inst", "class_name": "ClientShop",
                              "instance_name": name}, 3).get_result(timeout=60) for name in ("shop-7", "shop-2")]
    finally:
        c.destroy()
    assert results == [21, 6]
