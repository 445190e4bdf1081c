"""A silent network partition of the leading host (its packets dropped inside its namespace:
no reset, no ICMP), measured: how long until another host leads and fires cron, until the
partitioned host's PENDING workflows have finished elsewhere, until the partitioned host itself
notices (TCP keepalive and tcp_user_timeout, db/netopts.py); then heal and check that nothing
ran or fired twice beyond the step contract and that the healed host claims work again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dbos_workers import DBOSClient
from tests.chaos import checker
from tests.chaos.hostkit import enqueue_jobs, events_ms, leader_host, now_ms, start_hosts
from tests.chaos.netns import Fabric
from tests.helpers import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

LEASE_SEC = 2.0
STEP_SEC = 0.5


def test_silent_partition_of_the_leading_host_fails_over_fences_and_rejoins(fabric_factory: Any) -> None:
    fabric: Fabric = fabric_factory(3, lease_sec=LEASE_SEC, step_sec=STEP_SEC)
    db = start_hosts(fabric, f"p_{uuid.uuid4().hex[:8]}")
    client = DBOSClient(fabric.postgres.url, dbos_system_schema=db("SELECT current_schema() AS s")[0]["s"])
    expected: dict[str, checker.Expected] = {}
    try:
        first = enqueue_jobs(client, expected, "part", 30, 8)
        lead, _ = leader_host(db)
        wait_until(lambda: len(db("SELECT 1 FROM workflow_status WHERE status = 'PENDING' AND executor_id LIKE %s "
                                  "AND workflow_uuid = ANY(%s)", f"{lead}/%", first)) >= 3, 30, 0.1)
        wait_until(lambda: len(db("SELECT 1 FROM workflow_status WHERE workflow_uuid LIKE 'sched-%%'")) >= 3, 20)

        cut_ms = now_ms()
        fabric.partition(lead)
        held = [r["workflow_uuid"] for r in db(
            "SELECT workflow_uuid FROM workflow_status WHERE status = 'PENDING' AND executor_id LIKE %s "
            "AND workflow_uuid = ANY(%s)", f"{lead}/%", first)]
        assert held, "the partitioned host held no PENDING work"

        new_lead, elected_ms = wait_until(lambda: (h := leader_host(db))[0] != lead and h, 30, 0.1)
        fired_ms = int(wait_until(lambda: db("SELECT min(created_at) AS at FROM workflow_status WHERE "
                                             "workflow_uuid LIKE 'sched-%%' AND created_at >= %s",
                                             elected_ms)[0]["at"], 10, 0.1))
        done = wait_until(lambda: (rows := db(
            "SELECT max(completed_at) AS at, count(*) AS n FROM workflow_status WHERE status = 'SUCCESS' "
            "AND workflow_uuid = ANY(%s)", held)[0])["n"] == len(held) and rows, 60, 0.2)
        taken = db("SELECT workflow_uuid, executor_id, recovery_attempts FROM workflow_status "
                   "WHERE workflow_uuid = ANY(%s)", held)
        assert all(not r["executor_id"].startswith(f"{lead}/") and r["recovery_attempts"] >= 2 for r in taken)
        wait_until(lambda: db("SELECT count(*) AS n FROM workflow_status WHERE status = 'SUCCESS' "
                              "AND workflow_uuid = ANY(%s)", first)[0]["n"] == len(first), 90, 0.2)
        part = fabric.hosts[lead]
        stepped = wait_until(lambda: [t for t in events_ms(part, "leader_stepped_down") if t > cut_ms], 40, 0.2)
        # Partitioned past its own detection time: it ran nothing it could not commit.
        heal_ms = now_ms()
        fabric.heal(lead)

        rejoin = enqueue_jobs(client, expected, "rejoin", 45, 2)
        back = wait_until(lambda: db("SELECT min(started_at_epoch_ms) AS at FROM workflow_status WHERE executor_id LIKE %s "
                                     "AND workflow_uuid = ANY(%s)", f"{lead}/%", rejoin)[0]["at"], 60, 0.2)
        wait_until(lambda: db("SELECT count(*) AS n FROM workflow_status WHERE status = 'SUCCESS' "
                              "AND workflow_uuid = ANY(%s)", rejoin)[0]["n"] == len(rejoin), 90, 0.2)
        since = now_ms()
        wait_until(lambda: len(db("SELECT 1 FROM workflow_status WHERE workflow_uuid LIKE 'sched-%%' "
                                  "AND created_at > %s", since)) >= 3, 20, 0.2)

        claimed = db("SELECT workflow_uuid FROM workflow_status WHERE executor_id LIKE %s "
                     "AND started_at_epoch_ms BETWEEN %s AND %s", f"{lead}/%", cut_ms + 1000, heal_ms)
        assert claimed == [], f"the partitioned host claimed while cut off: {claimed[:3]}"
        records = checker.side_records(fabric.base)
        late = [r for r in records if r["kind"] == "step" and r["host"] == lead and r["wf"] in held
                and r["ms"] > stepped[0]]
        assert late == [], f"the partitioned host kept running taken-over work after noticing: {late[:3]}"
        faults = [checker.Fault("partition", cut_ms, heal_ms, host=lead)]
        numbers = checker.check_workflows(db, records, expected, faults, int(STEP_SEC * 1000))
        numbers.update(checker.check_ticks(db, records))
    finally:
        client.destroy()
    measured = {"new_leader_sec": (elected_ms - cut_ms) / 1000, "cron_fired_sec": (fired_ms - cut_ms) / 1000,
                "held_recovered_sec": (int(done["at"]) - cut_ms) / 1000, "held": len(held),
                "partitioned_stepped_down_sec": (stepped[0] - cut_ms) / 1000,
                "partition_sec": (heal_ms - cut_ms) / 1000, "rejoined_claim_sec": (int(back) - heal_ms) / 1000}
    print(f"\n[partition] lease_sec={LEASE_SEC} new_leader={new_lead} "
          + " ".join(f"{k}={v}" for k, v in {**measured, **numbers}.items()))
    assert measured["new_leader_sec"] <= LEASE_SEC + 8, measured
    assert measured["held_recovered_sec"] <= 4 * LEASE_SEC + 8 * STEP_SEC + 15, measured
    assert measured["partitioned_stepped_down_sec"] <= 25, measured  # seconds, not the kernel's 15 min
