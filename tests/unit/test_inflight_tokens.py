"""The in-flight ledger keeps one entry per workflow, for the execution that owns it now.

A stale execution (its lease lapsed, the row was taken back and claimed again by this same
process) used to release the entry of the new claim by workflow id; the orphan sweep then saw
the new claim's row as held but not listed and handed it back, and a third execution ran the
step again 6 ms later (the randomized fault schedule, seed 7)."""

from __future__ import annotations

from dbos_workers.inflight import InFlight


def test_a_stale_executions_release_leaves_the_new_claims_entry() -> None:
    ledger = InFlight()
    ledger.claimed("w", "q", token="first")
    ledger.claimed("w", "q", token="second")  # taken back meanwhile, claimed again here
    assert ledger.counts() == (1, 1) and ledger.held_in("q") == 1
    ledger.ran("w", "first")
    assert ledger.release("w", "first") is None  # the stale one finds the new entry: leaves it
    assert "w" in ledger and ledger.counts() == (1, 1)
    ledger.ran("w", "second")
    assert ledger.counts() == (1, 0)
    assert ledger.release("w", "second") is not None
    assert "w" not in ledger and ledger.counts() == (0, 0) and ledger.held_in("q") == 0


def test_a_row_started_here_is_listed_before_its_insert_and_only_once() -> None:
    ledger = InFlight()
    assert ledger.reserve("w", "mine")
    assert not ledger.reserve("w", "other")  # listed already (a second start of the same id)
    assert ledger.release("w", "other") is None
    assert ledger.release("w", "mine") is not None and ledger.counts() == (0, 0)
