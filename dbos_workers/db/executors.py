"""executors: the lease table."""

from __future__ import annotations

from dataclasses import dataclass

from .store import Store


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What caps this host's connections (None: no limit of that kind applies)."""

    limit: int  # the lowest cap that applies to this role on this database
    binding: str  # which one: "max_connections", "database CONNECTION LIMIT", "role CONNECTION LIMIT"
    open_now: int  # connections counted against that cap now (all hosts)


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

    def autovacuum_on(self) -> bool:
        """Will autovacuum clean workflow_status (server switch and the table's own)?"""
        row = self.repo.one("executor_autovacuum")
        assert row is not None
        return bool(row["server_on"]) and row["table_on"] is not False

    def connection_limits(self) -> ConnectionLimits:
        row = self.repo.one("executor_connection_limits")
        assert row is not None
        caps = [(int(row["server_limit"]), "max_connections", int(row["server_open"]))]
        if not row["superuser"]:
            if row["database_limit"] >= 0:
                caps.append((int(row["database_limit"]), "database CONNECTION LIMIT", int(row["database_open"])))
            if row["role_limit"] >= 0:
                caps.append((int(row["role_limit"]), "role CONNECTION LIMIT", int(row["database_open"])))
        limit, binding, open_now = min(caps, key=lambda c: c[0] - c[2])
        return ConnectionLimits(limit, binding, open_now)
