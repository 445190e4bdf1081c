"""Prometheus metrics from every process: a pool of 2 workers runs 1,000 workflows while the
app process serves /metrics; the aggregated counters equal the database's counts exactly."""

from __future__ import annotations

import os
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from dbos_workers import DBOS, Queue
from dbos_workers.metrics.run import current
from tests.helpers import query, wait_until

prometheus_parser = pytest.importorskip("prometheus_client.parser")
pytestmark = [pytest.mark.acceptance]

Launch = Callable[..., type[DBOS]]
N = 1000


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in prometheus_parser.text_string_to_metric_families(text):
        for s in family.samples:
            samples[s.name].append((s.labels, s.value))
    return samples


def total(samples: dict[str, list[tuple[dict[str, str], float]]], metric: str, **labels: str) -> float:
    return sum(v for lab, v in samples.get(metric, []) if all(lab.get(k) == want for k, want in labels.items()))


def test_scraped_counters_equal_the_database(launch: Launch, pg_url: str, schema: str) -> None:
    q = Queue("obs_metrics")

    @DBOS.step()
    def double(i: int) -> int:
        if i % 7 == 0:
            raise ValueError(f"no {i}")
        return i * 2

    @DBOS.workflow()
    def job(i: int) -> int:
        return double(i)

    launch(worker_processes=2, enable_metrics=True, metrics_port=0)
    run = current()
    assert run is not None and run.server is not None
    port, directory = run.server.port, Path(run.directory)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(directory)
    workers = wait_until(lambda: (p := DBOS._get().lifecycle._supervisor.worker_pids()) and len(p) == 2 and p, 20)

    q.enqueue_many(job, [(i,) for i in range(N // 2)])
    for i in range(N // 2, N):
        q.enqueue(job, i)
    mid = scrape(port)  # while the pool runs
    assert total(mid, "dbw_workflows_enqueued_total", queue="obs_metrics") == N
    assert any(lab.get("queue") == "obs_metrics" for lab, _ in mid["dbw_queue_depth"])

    def finished() -> bool:
        rows = query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status "
                     "WHERE queue_name = 'obs_metrics' AND status IN ('SUCCESS', 'ERROR')")
        return rows[0]["n"] == N

    wait_until(finished, 240, 0.2)
    db = {r["status"]: r["n"] for r in query(
        pg_url, schema, "SELECT status, count(*) AS n FROM workflow_status "
        "WHERE queue_name = 'obs_metrics' GROUP BY status")}
    started_db = query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE queue_name = "
                       "'obs_metrics' AND started_at_epoch_ms IS NOT NULL")[0]["n"]
    assert db == {"SUCCESS": N - len(range(0, N, 7)), "ERROR": len(range(0, N, 7))}
    # the last outcomes' counters are written just after their commit: poll, then exact
    wait_until(lambda: total(scrape(port), "dbw_workflows_finished_total", queue="obs_metrics") >= N, 30, 0.2)
    final = scrape(port)
    wf = {"queue": "obs_metrics", "name": job.__qualname__}
    assert total(final, "dbw_workflows_started_total", **wf) == started_db == N
    assert total(final, "dbw_workflows_finished_total", outcome="SUCCESS", **wf) == db["SUCCESS"]
    assert total(final, "dbw_workflows_finished_total", outcome="ERROR", **wf) == db["ERROR"]
    assert total(final, "dbw_workflows_enqueued_total", **wf) == N
    assert total(final, "dbw_enqueue_to_start_seconds_count", queue="obs_metrics") == N
    assert total(final, "dbw_step_duration_seconds_count") >= N
    assert total(final, "dbw_claims_total") >= 1
    assert total(final, "dbw_group_commit_batch_size_count", kind="dbos-outcomes") >= 1
    assert total(final, "dbw_queue_depth", queue="obs_metrics", status="ENQUEUED") == 0
    # every process wrote its own file; both workers ran workflows
    files = {p.name for p in directory.iterdir()}
    assert {f"counter_{pid}.db" for pid in workers} <= files, (workers, files)
    in_flight_pids = {lab["pid"] for lab, _ in final["dbw_workflows_in_flight"]}
    assert {str(p) for p in workers} <= in_flight_pids
    assert total(final, "dbw_is_leader") == 1
    DBOS.destroy()
    assert not directory.exists()  # the run's directory is removed with the run
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_metrics_off_costs_no_import(launch: Launch) -> None:
    import sys

    from dbos_workers import metrics

    launch()
    assert metrics.active() is None and current() is None
    assert metrics.workflow_started("q", "n") == 0.0
    if "prometheus_client" not in sys.modules:  # another test may have imported it
        assert "prometheus_client" not in sys.modules


def test_a_killed_worker_keeps_its_counts_and_loses_its_live_gauges(launch: Launch, pg_url: str,
                                                                     schema: str) -> None:
    import signal

    q = Queue("obs_metrics_kill")

    @DBOS.workflow()
    def quick(i: int) -> int:
        return os.getpid()

    launch(worker_processes=2, enable_metrics=True, metrics_port=0)
    run = current()
    assert run is not None and run.server is not None
    port = run.server.port
    sup = DBOS._get().lifecycle._supervisor
    workers = wait_until(lambda: (p := sup.worker_pids()) and len(p) == 2 and p, 20)
    pids = {h.get_result(timeout=60) for h in [q.enqueue(quick, i) for i in range(200)]}
    victim = workers[0]
    if victim not in pids:  # the test needs the victim's counts in its file
        victim = next(iter(pids))
    before = scrape(port)
    assert str(victim) in {lab["pid"] for lab, _ in before["dbw_workflows_in_flight"]}
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: (p := sup.worker_pids()) and len(p) == 2 and victim not in p, 30)
    for h in [q.enqueue(quick, i) for i in range(200, 300)]:
        h.get_result(timeout=60)
    ran = query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE queue_name = "
                "'obs_metrics_kill' AND status = 'SUCCESS'")[0]["n"]
    assert ran == 300

    def settled() -> dict[str, list[tuple[dict[str, str], float]]] | None:
        s = scrape(port)
        return s if total(s, "dbw_workflows_finished_total", queue="obs_metrics_kill") >= 300 else None

    after = wait_until(settled, 30, 0.2)
    assert total(after, "dbw_workflows_finished_total", queue="obs_metrics_kill", outcome="SUCCESS") == 300
    assert total(after, "dbw_workflows_started_total", queue="obs_metrics_kill") == 300
    assert str(victim) not in {lab["pid"] for lab, _ in after["dbw_workflows_in_flight"]}
    assert not (Path(run.directory) / f"gauge_liveall_{victim}.db").exists()
    assert (Path(run.directory) / f"counter_{victim}.db").exists()


def test_async_workflows_are_counted_like_thread_ones(launch: Launch, pg_url: str, schema: str) -> None:
    """The async lane (workflows on a worker's event loop) reports the same series: started,
    finished by outcome, claim latency, run and step durations, step retries."""
    q = Queue("obs_metrics_async")
    n = 300

    @DBOS.step(retries_allowed=True, max_attempts=2, interval_seconds=0.01)
    async def half(i: int) -> int:
        if i % 5 == 0:
            raise ValueError(f"no {i}")
        return i // 2

    @DBOS.workflow()
    async def ajob(i: int) -> int:
        return await half(i)

    launch(worker_processes=2, enable_metrics=True, metrics_port=0)
    run = current()
    assert run is not None and run.server is not None
    port = run.server.port
    q.enqueue_many(ajob, [(i,) for i in range(n)])
    wait_until(lambda: query(pg_url, schema, "SELECT count(*) AS n FROM workflow_status WHERE queue_name = "
                             "'obs_metrics_async' AND status IN ('SUCCESS', 'ERROR')")[0]["n"] == n, 120, 0.2)
    failed = len(range(0, n, 5))
    wait_until(lambda: total(scrape(port), "dbw_workflows_finished_total", queue="obs_metrics_async") >= n, 30, 0.2)
    final = scrape(port)
    wf = {"queue": "obs_metrics_async", "name": ajob.__qualname__}
    assert total(final, "dbw_workflows_started_total", **wf) == n
    assert total(final, "dbw_workflows_finished_total", outcome="SUCCESS", **wf) == n - failed
    assert total(final, "dbw_workflows_finished_total", outcome="ERROR", **wf) == failed
    assert total(final, "dbw_enqueue_to_start_seconds_count", queue="obs_metrics_async") == n
    assert total(final, "dbw_workflow_duration_seconds_count", name=ajob.__qualname__) == n
    assert total(final, "dbw_step_duration_seconds_count", name=half.__qualname__) == n
    assert total(final, "dbw_step_retries_total", name=half.__qualname__) == 2 * failed
