"""worker/queuewalk.py: the order a claim walks its queues in (round robin) and which it
leaves out (found empty, no NOTIFY since)."""

from __future__ import annotations

from dbos_workers.worker.queuewalk import QueueWalk

QUEUES = ["a", "b", "c", "d"]


def _claim(w: QueueWalk, took: list[str], drained: bool) -> list[str]:
    walked, mark = w.begin(QUEUES)
    w.found(QUEUES, walked, took, drained, mark)
    return walked


def test_each_walk_starts_after_the_last_queue_the_previous_one_took_from() -> None:
    w = QueueWalk(full_every_sec=3600)
    assert _claim(w, ["a", "b"], drained=False) == QUEUES
    assert _claim(w, ["c", "d", "a"], drained=False) == ["c", "d", "a", "b"]
    assert w.begin(QUEUES)[0] == ["b", "c", "d", "a"]  # wrapped past the end: after a
    assert _claim(w, [], drained=False) == ["b", "c", "d", "a"]  # took nothing: same start
    assert w.begin(QUEUES)[0] == ["b", "c", "d", "a"]


def test_a_drained_claim_leaves_out_the_queues_it_took_nothing_from_until_a_notify() -> None:
    w = QueueWalk(full_every_sec=3600)
    _claim(w, ["a", "a"], drained=True)
    assert w.begin(QUEUES)[0] == ["a"]
    w.woken("c")  # a NOTIFY: c has work again
    assert w.begin(QUEUES)[0] == ["c", "a"]  # in turn: the walk starts after a


def test_a_full_claim_marks_nothing_empty() -> None:
    w = QueueWalk(full_every_sec=3600)
    _claim(w, ["a"], drained=False)  # it got all it asked for: the rest were not looked at
    assert sorted(w.begin(QUEUES)[0]) == QUEUES


def test_a_wake_during_the_claim_keeps_its_queue() -> None:
    w = QueueWalk(full_every_sec=3600)
    walked, mark = w.begin(QUEUES)
    w.woken("b")  # arrives while the claim runs: its rows may postdate the claim's snapshot
    w.found(QUEUES, walked, [], True, mark)
    assert w.begin(QUEUES)[0] == ["b"]


def test_all_empty_means_no_claim_until_the_poll_or_a_reconnect() -> None:
    w = QueueWalk(full_every_sec=3600)
    _claim(w, [], drained=True)
    assert w.begin(QUEUES)[0] == []  # nothing to claim: no statement at all
    w.woken(None)  # the listener reconnected: wake-ups may have been lost
    assert w.begin(QUEUES)[0] == QUEUES
    polled = QueueWalk(full_every_sec=0.0)  # every claim is the poll
    _claim(polled, [], drained=True)
    assert polled.begin(QUEUES)[0] == QUEUES
