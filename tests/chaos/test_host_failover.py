"""Failover under load: a primary and a synchronous streaming replica, every host and the
client given one multi-host URL (`target_session_attrs=read-write`). The primary crashes
(`pg_ctl -m immediate`), the replica is promoted: the pools follow, nothing acknowledged is
lost, nothing runs twice beyond the steps in flight at the crash."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dbos_workers import DBOSClient
from tests.chaos import checker
from tests.chaos.failover import Standby, multi_host_url
from tests.chaos.hostkit import enqueue_jobs, leader_host, now_ms, retried, start_hosts
from tests.chaos.netns import Fabric, _free_port
from tests.helpers import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

LEASE_SEC = 2.0
STEP_SEC = 0.3


def test_promoting_the_replica_under_load_loses_nothing_acknowledged(fabric_factory: Any) -> None:
    fabric: Fabric = fabric_factory(3, lease_sec=LEASE_SEC, step_sec=STEP_SEC)
    standby = Standby(fabric.base, fabric.postgres, _free_port())
    standby.init()
    fabric.extra_clusters.append(standby)
    standby.make_synchronous()
    url = multi_host_url(fabric.postgres, standby)
    db = start_hosts(fabric, f"f_{uuid.uuid4().hex[:8]}", url)
    client = DBOSClient(url, dbos_system_schema=db("SELECT current_schema() AS s")[0]["s"])
    expected: dict[str, checker.Expected] = {}
    try:
        before = enqueue_jobs(client, expected, "pre", 60, 10)
        wait_until(lambda: db("SELECT count(*) AS n FROM workflow_status WHERE status = 'SUCCESS' "
                              "AND workflow_uuid = ANY(%s)", before)[0]["n"] >= 5, 30, 0.1)
        pending = db("SELECT count(*) AS n FROM workflow_status WHERE status = 'PENDING' "
                     "AND workflow_uuid = ANY(%s)", before)[0]["n"]
        recorded = {(r["workflow_uuid"], r["function_id"]) for r in db(
            "SELECT workflow_uuid, function_id FROM operation_outputs WHERE workflow_uuid = ANY(%s)", before)}
        crash_ms = now_ms()
        fabric.postgres.stop("immediate")
        standby.promote()
        promoted_ms = now_ms()
        for i in range(20):  # acknowledged after the failover
            wf = f"post-{i}"
            retried(client.enqueue, {"workflow_name": "job", "queue_name": "chaos_hosts", "workflow_id": wf}, wf, 3)
            expected[wf] = checker.Expected("job", wf, steps=3)
        ids = list(expected)
        done = wait_until(lambda: (r := db("SELECT count(*) AS n, max(completed_at) AS at FROM workflow_status "
                                           "WHERE status = 'SUCCESS' AND workflow_uuid = ANY(%s)", ids)[0])["n"]
                          == len(ids) and r, 120, 0.2)
        first_ms = int(db("SELECT min(completed_at) AS at FROM workflow_status WHERE completed_at > %s",
                          promoted_ms)[0]["at"])
        _, elected_ms = leader_host(db)
        since = now_ms()
        wait_until(lambda: len(db("SELECT 1 FROM workflow_status WHERE workflow_uuid LIKE 'sched-%%' "
                                  "AND created_at > %s", since)) >= 3, 30, 0.2)
        after = {(r["workflow_uuid"], r["function_id"]) for r in db(
            "SELECT workflow_uuid, function_id FROM operation_outputs WHERE workflow_uuid = ANY(%s)", before)}
        assert recorded <= after, f"checkpoints acknowledged before the crash were lost: {sorted(recorded - after)[:5]}"
        assert pending > 0, "no workflow was in flight at the crash"
        records = checker.side_records(fabric.base)
        faults = [checker.Fault("pg_restart", crash_ms, promoted_ms + int(2 * LEASE_SEC * 1000))]
        numbers = checker.check_workflows(db, records, expected, faults, int(STEP_SEC * 1000))
        ticks = checker.check_ticks(db, records)
    finally:
        client.destroy()
    assert db("SELECT pg_is_in_recovery() AS r")[0]["r"] is False
    measured = {"pending_at_crash": pending, "checkpoints_before_crash": len(recorded), "promote_sec": (promoted_ms - crash_ms) / 1000,
                "first_completion_after_promote_sec": (first_ms - promoted_ms) / 1000,
                "leader_elected_after_crash_sec": (elected_ms - crash_ms) / 1000,
                "all_done_after_crash_sec": (int(done["at"]) - crash_ms) / 1000}
    print("\n[failover] " + " ".join(f"{k}={v}" for k, v in {**measured, **numbers, **ticks}.items()))
