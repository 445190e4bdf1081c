"""fork_workflow (DBOS 3.4): new id (SetWorkflowID or a uuid), inputs copied, operations
before start_step copied (they replay, not re-run), events copied, forked_from recorded, the
original marked, enqueued; restart = fork from step 1."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from dbos_workers import DBOS, SetWorkflowID
from dbos_workers.errors import DBOSConflictingWorkflowError, DBOSException, DBOSNonExistentWorkflowError
from tests.helpers import query

pytestmark = pytest.mark.integration


def _counter(path: str, label: str) -> None:
    with open(path, "a") as f:
        f.write(label + "\n")


def _runs(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _define() -> Any:
    @DBOS.step()
    def mark(path: str, label: str) -> str:
        _counter(path, label)
        return label

    @DBOS.workflow(name="fork-three-steps")
    def three(path: str, x: int) -> str:
        a = mark(path, "s1")
        DBOS.set_event("after-s1", a)
        b = mark(path, "s2")
        c = mark(path, "s3")
        return f"{a}{b}{c}:{x}"

    return three


def test_fork_from_step_2_replays_step_1(launch: Any, tmp_path: Path, pg_url: str, schema: str) -> None:
    three = _define()
    dbos = launch(worker_processes=1)
    side = tmp_path / "runs.txt"
    with SetWorkflowID("orig"):
        assert three(str(side), 7) == "s1s2s3:7"
    assert _runs(side) == ["s1", "s2", "s3"]
    marks = [s for s in dbos.list_workflow_steps("orig") if s["function_name"].endswith("mark")]
    assert [m["output"] for m in marks] == ["s1", "s2", "s3"]
    start = marks[1]["function_id"]  # fork from the step that ran s2
    fork = dbos.fork_workflow("orig", start)
    assert fork.get_result(timeout=60) == "s1s2s3:7"
    assert _runs(side) == ["s1", "s2", "s3", "s2", "s3"]  # s1 not run again
    status = fork.get_status()
    assert (status.forked_from, status.name, status.queue_name, status.input) == (
        "orig", "fork-three-steps", "_dbos_internal_queue", {"args": (str(side), 7), "kwargs": {}})
    assert dbos.get_workflow_status("orig").was_forked_from is True
    copied = query(pg_url, schema, "SELECT function_id FROM operation_outputs WHERE workflow_uuid = %s "
                   "AND function_id < %s ORDER BY 1", fork.workflow_id, start)
    assert [r["function_id"] for r in copied] == list(range(1, start))
    assert dbos.get_event(fork.workflow_id, "after-s1", timeout_seconds=5) == "s1"
    assert [s.workflow_id for s in dbos.list_workflows(forked_from="orig")] == [fork.workflow_id]
    uuid.UUID(fork.workflow_id)  # a uuid when SetWorkflowID is not given


def test_restart_is_fork_from_step_1_with_explicit_id(launch: Any, tmp_path: Path) -> None:
    three = _define()
    dbos = launch(worker_processes=1)
    side = tmp_path / "runs.txt"
    with SetWorkflowID("orig-r"):
        three(str(side), 1)
    with SetWorkflowID("restart-1"):
        fork = dbos.fork_workflow("orig-r", 1, application_version="v-fork", timeout_seconds=120)
    assert fork.workflow_id == "restart-1"
    assert fork.get_result(timeout=60) == "s1s2s3:1"
    assert _runs(side) == ["s1", "s2", "s3", "s1", "s2", "s3"]
    status = fork.get_status()
    assert (status.app_version, status.workflow_timeout_ms, status.forked_from) == ("v-fork", 120_000, "orig-r")
    with SetWorkflowID("restart-1"):  # the same fork again (a retry): idempotent on the id
        again = dbos.fork_workflow("orig-r", 1)
    assert again.workflow_id == "restart-1" and again.get_result(timeout=10) == "s1s2s3:1"
    assert len(_runs(side)) == 6


def test_fork_async_twin_and_list_async(launch: Any, tmp_path: Path) -> None:
    import asyncio

    three = _define()
    dbos = launch(worker_processes=1)
    side = tmp_path / "runs.txt"
    with SetWorkflowID("orig-a"):
        three(str(side), 3)

    async def main() -> tuple[str, list[str]]:
        with SetWorkflowID("fork-a"):
            handle = await dbos.fork_workflow_async("orig-a", 1, queue_name="_dbos_internal_queue")
        listed = await dbos.list_workflows_async(forked_from="orig-a")
        return handle.workflow_id, [w.workflow_id for w in listed]

    assert asyncio.run(main()) == ("fork-a", ["fork-a"])
    assert dbos.retrieve_workflow("fork-a").get_result(timeout=60) == "s1s2s3:3"


def test_fork_errors(launch: Any, tmp_path: Path) -> None:
    three = _define()
    dbos = launch()
    with pytest.raises(DBOSNonExistentWorkflowError):
        dbos.fork_workflow("no-such-workflow", 1)
    with SetWorkflowID("orig-e"):
        three(str(tmp_path / "r.txt"), 2)
    with pytest.raises(DBOSException, match="start_step"):
        dbos.fork_workflow("orig-e", 0)
    with SetWorkflowID("orig-e"), pytest.raises(DBOSConflictingWorkflowError):
        dbos.fork_workflow("orig-e", 1)  # the new id is the original's own
