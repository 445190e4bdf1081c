"""A requeue takes back only a row still held as its caller saw it: the dead holder's owner
token, or the calling instance. By id alone, a late requeue (a leader's dead-holder sweep, a
respawned worker's slot recovery) undid a claim another host had made meanwhile, and two
hosts ran the workflow (found by the randomized fault schedule)."""

from __future__ import annotations

from typing import Any

import pytest

from dbos_workers import DBOS, Queue
from tests.helpers import query

pytestmark = pytest.mark.integration


def test_requeue_skips_rows_claimed_meanwhile(launch: Any, pg_url: str, schema: str) -> None:
    q = Queue("fenced_requeue")

    @DBOS.workflow()
    def noop(i: int) -> int:
        return i

    launch(worker_processes=0)
    ids = [q.enqueue(noop, i).workflow_id for i in range(3)]
    query(pg_url, schema, "UPDATE workflow_status SET status = 'PENDING', owner_token = 'now', "
          "owner_instance = 'other-host' WHERE workflow_uuid = ANY(%s)", ids)
    store = DBOS._rt().db.workflows

    def status() -> dict[str, str]:
        rows = query(pg_url, schema, "SELECT workflow_uuid, status FROM workflow_status "
                     "WHERE workflow_uuid = ANY(%s)", ids)
        return {r["workflow_uuid"]: r["status"] for r in rows}

    # the sweep saw the rows under an earlier (dead) holder's token: the new claims stand
    assert store.requeue(ids, refund=False, default_queue="q", owner_tokens=["dead"] * 3) == 0
    # a process handing back its own work: not rows another instance holds
    assert store.requeue(ids, refund=True, default_queue="q", owner_instance="this-host") == 0
    assert set(status().values()) == {"PENDING"}
    # the token it saw, for one row; the holding instance, for another; no condition, the third
    assert store.requeue(ids[:1], refund=False, default_queue="q", owner_tokens=["now"]) == 1
    assert store.requeue(ids[1:2], refund=False, default_queue="q", owner_instance="other-host") == 1
    assert store.requeue(ids[2:], refund=False, default_queue="q") == 1
    assert set(status().values()) == {"ENQUEUED"}
