"""What this process knows of its own executor lease, on its own monotonic clock only.

The leader hands a PENDING workflow back to its queue once its holder's heartbeat is older
than `executor_lease_sec` on the database's clock. A holder cut off for longer than that (a
silent partition, a stopped VM) cannot know whether that happened while it was away. So
before a workflow takes its next step, the process asks two questions, both answered here
without a round trip in the common case:

- is the lease surely still held? The last heartbeat that came back was sent less than
  FRESH_FRACTION of a lease ago (its database timestamp is no earlier than the send, so no
  sweep can have found it stale yet). If not, the step first renews the lease itself.
- did the lease lapse since this workflow last checked? A renewal that came back more than
  that long after the previous one was sent ended a lapse: every workflow claimed before it
  re-reads its row once (one primary-key read) and stops, without running the step, when it
  no longer owns it.

A renewal and the leader's sweep cannot cross: the sweep locks the stale executor rows it
acts on (`maintenance_recover_expired`, one statement, FOR UPDATE) until it commits, so a renewal
either lands first (and the sweep leaves this holder alone) or waits, and the ownership read
after it sees the requeue. Without this, the first step after a heal ran on work the leader
was just taking back, and ran again on the re-claim (the randomized fault schedule, seed 4).
"""

from __future__ import annotations

import threading
import time

FRESH_FRACTION = 0.75  # of the lease: a heartbeat younger than this is surely still held


class Lease:
    def __init__(self, lease_sec: float) -> None:
        self.fresh_sec = lease_sec * FRESH_FRACTION
        self.sent = -1e18  # monotonic send time of the last renewal that came back
        self.lapse_ended = -1e18  # monotonic time a renewal ended a lapse
        self.renewing = threading.Lock()  # one synchronous renewal at a time serves everyone

    def renewed(self, sent: float, *, found: bool = True) -> None:
        """A renewal sent at monotonic time `sent` came back now (found: the row was there)."""
        now = time.monotonic()
        if not found or now - self.sent >= self.fresh_sec:
            self.lapse_ended = now
        self.sent = max(self.sent, sent)

    def fresh(self) -> bool:
        return time.monotonic() - self.sent < self.fresh_sec

    def holds_for(self, verified_at: float) -> bool:
        """True when the lease is surely held and has not lapsed since verified_at (the
        monotonic time a workflow was claimed or last confirmed it owns its row)."""
        return self.fresh() and verified_at >= self.lapse_ended
