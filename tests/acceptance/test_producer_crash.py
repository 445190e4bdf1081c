"""Group-committed enqueues under kill -9: every enqueue acknowledged to its caller (the id
printed after enqueue returned) is in the database, whole; nothing else is."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

import pytest

from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess
from tests.helpers import query, wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.chaos]


def test_kill9_of_a_producer_loses_no_acknowledged_enqueue(
        spawn: Callable[..., AppProcess], app_env: dict[str, str], pg_url: str, schema: str) -> None:
    producer = spawn([sys.executable, str(APPS_DIR / "producer_app.py")], app_env, REPO_ROOT)
    wait_until(lambda: producer.stdout().count("\n") >= 2000, 60)
    producer.signal(signal.SIGKILL)
    assert producer.wait(10) == -signal.SIGKILL
    acknowledged = [ln for ln in producer.stdout().splitlines() if ln.strip()]
    acknowledged = acknowledged[:-1] if not producer.stdout().endswith("\n") else acknowledged
    rows = query(pg_url, schema, "SELECT workflow_uuid, status, inputs IS NOT NULL AS whole, queue_name "
                 "FROM workflow_status")
    stored = {r["workflow_uuid"]: r for r in rows}
    missing = [w for w in acknowledged if w not in stored]
    assert missing == [], f"{len(missing)} acknowledged enqueues lost"
    assert all(r["status"] == "ENQUEUED" and r["whole"] and r["queue_name"] == "produced" for r in rows)
    assert len(stored) >= len(acknowledged) >= 2000  # a batch in flight may have committed unacknowledged
