"""The leader's housekeeping statements, each a bounded batch."""

from __future__ import annotations

from .repository import Tx
from .store import Store


class MaintenanceStore(Store):
    def promote_delayed(self, n: int) -> list[str]:
        """Due DELAYED workflows become ENQUEUED; returns the queues woken."""
        rows = self.repo.all("maintenance_promote_delayed", now_ms=self.now_ms(), n=n, channel=self.channel)
        return [r["queue_name"] for r in rows]

    def cancel_expired(self, n: int) -> list[str]:
        """Cancel active workflows past their deadline; returns their ids."""
        rows = self.repo.all("workflow_cancel_expired", now_ms=self.now_ms(), n=n, channel=self.channel)
        return [r["workflow_uuid"] for r in rows]

    def recover_expired(self, lease_ms: int, n: int, default_queue: str) -> int:
        """Hand PENDING work whose holder's lease expired on the database's clock back to its
        queue, in one statement that holds the silent holders' executor rows until it commits
        (a renewal cannot cross it: lease.py). Only rows still held by the owner token seen
        move. Returns how many moved."""
        rows = self.repo.all("maintenance_recover_expired", lease_ms=lease_ms, n=n,
                             default_queue=default_queue, now_ms=self.now_ms(), channel=self.channel)
        return sum(int(r["moved"]) for r in rows)

    def prune_finished(self, cutoff_ms: int, n: int) -> list[str]:
        """Delete a batch of finished workflows past the cutoff (planned for this cut-off);
        returns their ids."""
        def prune(tx: Tx) -> list[str]:
            tx.run("session_custom_plans_local")
            return [r["workflow_uuid"] for r in tx.all("maintenance_prune_finished", cutoff_ms=cutoff_ms, n=n)]

        result: list[str] = self.repo.call(prune, transaction=True)
        return result

    def prune_executors(self, cutoff_ms: int, n: int) -> int:
        return self.repo.run("maintenance_prune_executors", cutoff_ms=cutoff_ms, n=n)
