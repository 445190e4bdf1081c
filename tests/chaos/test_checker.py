"""The chaos checker's re-run rule on hand-made records (no database): a step may run twice
only where a fault hit its earlier run."""

from __future__ import annotations

import pytest

from tests.chaos import checker


def step(host: str, pid: int, ms: int, wf: str = "w", n: int = 0) -> dict[str, object]:
    return {"kind": "step", "wf": wf, "step": n, "host": host, "pid": pid, "ms": ms}


def test_a_rerun_after_a_kill_of_its_runner_or_a_partition_of_its_host_is_explained() -> None:
    kill = checker.Fault("kill", 10_000, 10_000, host="h0", pid=7)
    cut = checker.Fault("partition", 20_000, 30_000, host="h1")
    records = [step("h0", 7, 9_500), step("h2", 9, 12_000),
               step("h1", 8, 25_000, n=1), step("h2", 9, 26_000, n=1)]
    assert checker._check_reruns(records, [kill, cut], 500) == {"steps_run": 4, "step_reruns": 2}


@pytest.mark.parametrize("fault", [
    checker.Fault("kill", 10_000, 10_000, host="h0", pid=8),  # another pid was killed
    checker.Fault("kill", 30_000, 30_000, host="h0", pid=7),  # long after the run ended
    checker.Fault("partition", 10_000, 12_000, host="h1"),  # another host was cut off
])
def test_a_rerun_no_fault_hit_fails_the_check(fault: checker.Fault) -> None:
    with pytest.raises(AssertionError, match="no fault hit"):
        checker._check_reruns([step("h0", 7, 9_500), step("h2", 9, 12_000)], [fault], 500)
