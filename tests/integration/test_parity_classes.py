"""DBOS classes (issue #15, item 3): @DBOS.dbos_class, DBOSConfiguredInstance, static and
class methods as workflows and steps, and steps started or enqueued as temporary workflows.
Behaviour as DBOS 3.4 documents and its test_classdecorators.py observes it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dbos_workers import DBOS, DBOSConfiguredInstance, DBOSException, Queue, SetWorkflowID
from tests.helpers import query

pytestmark = pytest.mark.integration


def _row(pg_url: str, schema: str, workflow_id: str) -> dict[str, Any]:
    rows = query(pg_url, schema, "SELECT name, class_name, config_name, status, executor_id, inputs "
                 "FROM workflow_status WHERE workflow_uuid = %s", workflow_id)
    assert len(rows) == 1
    return rows[0]


def test_instance_class_and_static_methods_record_their_target(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.dbos_class()
    class Shop(DBOSConfiguredInstance):
        def __init__(self, multiplier: int) -> None:
            self.multiplier = multiplier
            super().__init__("shop-a")

        @DBOS.workflow()
        def instance_wf(self, x: int) -> int:
            return self.times(x)

        @DBOS.step()
        def times(self, x: int) -> int:
            return self.multiplier * x

        @classmethod
        @DBOS.workflow()
        def class_wf(cls, x: int) -> str:
            return f"{cls.__name__}:{x}"

        @staticmethod
        @DBOS.workflow()
        def static_wf(x: int) -> int:
            return x + 1

    launch()
    shop = Shop(5)
    with SetWorkflowID("inst"):
        assert shop.instance_wf(2) == 10
    assert DBOS.start_workflow(shop.instance_wf, 3).get_result() == 15
    with SetWorkflowID("cls"):
        assert Shop.class_wf(1) == "Shop:1"
    with SetWorkflowID("cls2"):
        assert DBOS.start_workflow(shop.class_wf, 2).get_result() == "Shop:2"
    with SetWorkflowID("static"):
        assert DBOS.start_workflow(Shop.static_wf, 1).get_result() == 2

    qual = "test_instance_class_and_static_methods_record_their_target.<locals>.Shop"
    inst = _row(pg_url, schema, "inst")
    assert (inst["name"], inst["class_name"], inst["config_name"]) == (f"{qual}.instance_wf", qual, "shop-a")
    status = DBOS.get_workflow_status("inst")
    assert status is not None and status.class_name == qual and status.config_name == "shop-a"
    assert status.input == {"args": (2,), "kwargs": {}}  # `self` is not part of the inputs
    for wid in ("cls", "cls2"):
        row = _row(pg_url, schema, wid)
        assert (row["class_name"], row["config_name"]) == (qual, None)
    assert (_row(pg_url, schema, "static")["class_name"], _row(pg_url, schema, "static")["config_name"]) == (None, None)
    steps = DBOS.list_workflow_steps("inst")
    assert [(s["function_id"], s["function_name"], s["output"]) for s in steps] == [(1, f"{qual}.times", 10)]


def test_misregistered_classes_fail_in_dbos_words(launch: Any) -> None:
    @DBOS.dbos_class()
    class NoConfig:
        @DBOS.workflow()
        def wf(self) -> str:
            return "nope"

    class Forgotten(DBOSConfiguredInstance):
        def __init__(self) -> None:
            super().__init__("f")

        @DBOS.workflow()
        def wf1(self) -> str:
            return "forgot"

        @classmethod
        @DBOS.workflow()
        def wf2(cls) -> str:
            return "forgot"

    @DBOS.dbos_class()
    class Dup(DBOSConfiguredInstance):
        def __init__(self) -> None:
            super().__init__("bob")

    launch()
    with pytest.raises(DBOSException, match="does not have `config_name` set"):
        NoConfig().wf()
    with pytest.raises(Exception, match="appears to be a class instance, but is not properly registered"):
        Forgotten().wf1()
    with pytest.raises(Exception, match="appears to be a class, but is not properly registered"):
        Forgotten.wf2()
    qual = "test_misregistered_classes_fail_in_dbos_words.<locals>.Dup"
    with pytest.raises(Exception) as dup_class:
        DBOS.dbos_class()(type("Dup", (DBOSConfiguredInstance,), {"__qualname__": qual}))
    assert str(dup_class.value) == f"Duplicate type registration for class '{qual}'"
    Dup()
    with pytest.raises(Exception) as dup_inst:
        Dup()
    assert str(dup_inst.value) == f"Duplicate instance registration for class '{qual}' instance 'bob'"


def test_queued_methods_run_on_the_registered_instance_in_a_worker(launch: Any, pg_url: str, schema: str) -> None:
    """Instances registered before launch are known to the forked workers: a queued
    instance-method (and classmethod, and method step) workflow runs there, on that instance;
    an instance registered after launch follows the late-registration path (the app runs it)."""
    q = Queue("methods")
    limited = Queue("methods-limited", concurrency=1)

    @DBOS.dbos_class("Calc")
    class Calc(DBOSConfiguredInstance):
        def __init__(self, name: str, k: int) -> None:
            self.k = k
            super().__init__(name)

        @DBOS.workflow()
        def scale(self, x: int) -> tuple[int, str]:
            return self.k * x, str(DBOS.executor_id)

        @DBOS.step()
        def bump(self, x: int) -> int:
            return self.k + x

        @classmethod
        @DBOS.workflow()
        def kind(cls) -> str:
            return f"{cls.__name__}@{DBOS.executor_id}"

    early = Calc("early", 3)
    launch(worker_processes=1)
    worker = f"{DBOS.executor_id}/0"
    assert q.enqueue(early.scale, 7).get_result(timeout=20) == (21, worker)
    assert q.enqueue(Calc.kind).get_result(timeout=20) == f"Calc@{worker}"
    h = DBOS.enqueue_workflow("methods", early.bump, 1)
    assert h.get_result(timeout=20) == 4
    row = _row(pg_url, schema, h.workflow_id)
    assert (row["name"], row["class_name"], row["config_name"], row["executor_id"]) == (
        "<temp>." + Calc.bump.__qualname__, "Calc", "early", worker)

    late = Calc("late", 10)  # after launch: the workers do not have it
    handle = q.enqueue(late.scale, 2)
    assert handle.get_result(timeout=20) == (20, DBOS.executor_id)
    assert _row(pg_url, schema, handle.workflow_id)["executor_id"] == DBOS.executor_id
    # On a queue with a global limit a worker skips the rows of instances it lacks (claims
    # there are budgeted, not parked): the row enqueued after it runs, it waits, untouched.
    waiting = limited.enqueue(late.scale, 3)
    assert limited.enqueue(early.scale, 1).get_result(timeout=20) == (3, worker)
    assert query(pg_url, schema, "SELECT status, parked, recovery_attempts FROM workflow_status "
                 "WHERE workflow_uuid = %s", waiting.workflow_id) == [
        {"status": "ENQUEUED", "parked": False, "recovery_attempts": 0}]


def test_steps_start_and_enqueue_as_temporary_workflows(launch: Any, pg_url: str, schema: str) -> None:
    calls: list[int] = []

    @DBOS.step()
    def add_one(x: int) -> int:
        calls.append(x)
        return x + 1

    launch()
    wid = str(uuid.uuid4())
    with SetWorkflowID(wid):
        assert DBOS.start_workflow(add_one, 1).get_result() == 2
    with SetWorkflowID(wid):  # the id is an idempotency key here too
        assert DBOS.start_workflow(add_one, 1).get_result() == 2
    assert calls == [1]
    row = _row(pg_url, schema, wid)
    assert row["name"] == "<temp>." + add_one.__qualname__ and row["status"] == "SUCCESS"
    steps = DBOS.list_workflow_steps(wid)
    assert [(s["function_id"], s["function_name"], s["output"]) for s in steps] == [(1, add_one.__qualname__, 2)]
    assert add_one(5) == 6  # outside a workflow: a plain call, nothing recorded
    assert len(query(pg_url, schema, "SELECT 1 FROM workflow_status")) == 1


def test_recovered_instance_workflow_gets_its_instance_back(launch: Any, pg_url: str, schema: str) -> None:
    """A PENDING instance-method workflow taken over at launch runs on the instance registered
    under its Class/config_name; one whose instance is not registered waits, parked."""
    @DBOS.dbos_class()
    class Greeter(DBOSConfiguredInstance):
        def __init__(self, name: str, greeting: str) -> None:
            self.greeting = greeting
            super().__init__(name)

        @DBOS.workflow()
        def greet(self, who: str) -> str:
            return f"{self.greeting} {who}"

    g = Greeter("en", "hello")
    launch()
    with SetWorkflowID("g1"):
        assert g.greet("ann") == "hello ann"
    DBOS.destroy()
    # As if the process died mid-run: the row is PENDING again, its holder gone.
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, owner_instance=NULL "
          "WHERE workflow_uuid='g1'")
    launch()
    assert DBOS.retrieve_workflow("g1").get_result(timeout=10) == "hello ann"
    assert _row(pg_url, schema, "g1")["status"] == "SUCCESS"
