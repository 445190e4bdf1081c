"""The hooks' write-behind (metrics/pending.py): increments are held until a flush, then
written exactly (per series, histogram buckets and sums included), and a forked child starts
with nothing of its parent's."""

from __future__ import annotations

import os

import pytest

from dbos_workers.metrics import pending

prometheus_client = pytest.importorskip("prometheus_client")


def _value(registry: object, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)  # type: ignore[attr-defined, no-any-return]


def test_increments_wait_for_flush_and_then_are_exact() -> None:
    r = prometheus_client.CollectorRegistry()
    c = prometheus_client.Counter("t_runs", "runs", ("q",), registry=r)
    h = prometheus_client.Histogram("t_lat", "latency", buckets=(0.01, 0.1, 1.0), registry=r)
    a, hist = pending.Series(c.labels("a")), pending.Series(h)
    for _ in range(5):
        pending.count(a)
    pending.count(pending.Series(c.labels("b")), 3)
    for amount in (0.005, 0.01, 0.05, 0.5, 7.0):
        pending.observe(hist, amount)
    assert _value(r, "t_runs_total", q="a") == 0.0 and _value(r, "t_lat_count") == 0.0
    pending.flush()
    assert _value(r, "t_runs_total", q="a") == 5.0 and _value(r, "t_runs_total", q="b") == 3.0
    assert _value(r, "t_lat_bucket", le="0.01") == 2.0  # 0.005 and 0.01 (le is inclusive)
    assert _value(r, "t_lat_bucket", le="0.1") == 3.0
    assert _value(r, "t_lat_bucket", le="1.0") == 4.0
    assert _value(r, "t_lat_count") == 5.0 and _value(r, "t_lat_sum") == pytest.approx(7.565)
    pending.flush()  # nothing twice
    assert _value(r, "t_runs_total", q="a") == 5.0


def test_a_forked_child_drops_the_parents_pending_increments() -> None:
    r = prometheus_client.CollectorRegistry()
    c = prometheus_client.Counter("t_forked", "forked", registry=r)
    pending.count(pending.Series(c), 2)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: flushing writes nothing of the parent's
        pending.flush()
        os.write(write, str(_value(r, "t_forked_total")).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 64) == b"0.0" and status == 0
    pending.flush()
    assert _value(r, "t_forked_total") == 2.0
