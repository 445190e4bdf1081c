"""executors: the lease table."""

from __future__ import annotations

from .store import Store


class ExecutorStore(Store):
    """Lease timestamps are the database's clock (db_now_ms() in the statements); register
    and heartbeat return it so the caller can estimate its own clock's offset."""

    def register(self, *, instance_id: str, executor_id: str, host: str, pid: int, role: str,
                 proc_start_ticks: int | None, boot_id: str | None) -> int:
        row = self.repo.one("executor_register", instance_id=instance_id, executor_id=executor_id,
                            host=host, pid=pid, role=role, proc_start_ticks=proc_start_ticks,
                            boot_id=boot_id)
        assert row is not None
        return int(row["db_now_ms"])

    def heartbeat(self, instance_id: str) -> int | None:
        """Renew the lease (no retry: the next beat is the retry); the database's time, or
        None when the row is gone."""
        row = self.repo.one("executor_heartbeat", instance_id=instance_id, retry=False)
        return None if row is None else int(row["db_now_ms"])

    def stopped(self, instance_id: str) -> None:
        self.repo.run("executor_stopped", instance_id=instance_id, retry=False)
