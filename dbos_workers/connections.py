"""How many connections a host may open, and a warning at launch when the database allows
fewer. Per host: the app process's pool (`sys_db_pool_size`) and its LISTEN connection; each
worker's pool (`worker_db_pool_size`), its LISTEN connection and the elector's session; the
supervisor opens none. Pools open connections as they are needed (one each when idle), so a
host below its appetite still runs everything, waiting for connections instead of opening
more; this warning says so before the first "too many connections" does."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .errors import DBOSWorkersError
from .runtime import Runtime

APP_EXTRA = 1  # the LISTEN connection
WORKER_EXTRA = 2  # the LISTEN connection and the elector's session


@dataclass(frozen=True)
class Appetite:
    app: int
    per_worker: int
    workers: int

    @property
    def total(self) -> int:
        return self.app + self.per_worker * self.workers

    @property
    def minimum(self) -> int:
        """With every pool at one connection: what the host needs to run at all."""
        return 1 + APP_EXTRA + (1 + WORKER_EXTRA) * self.workers


def appetite(s: Settings) -> Appetite:
    return Appetite(app=s.pool_size + APP_EXTRA, per_worker=s.worker_pool_size + WORKER_EXTRA,
                    workers=s.worker_processes)


def check_budget(rt: Runtime) -> Appetite:
    """Log `connection_budget_exceeded` when this host's appetite exceeds what is left under
    the cap that binds (the server's max_connections, the database's or role's CONNECTION
    LIMIT), counting the connections other hosts hold now."""
    want = appetite(rt.settings)
    try:
        limits = rt.db.executors.connection_limits()
    except DBOSWorkersError as exc:  # only a warning is at stake: never fail a launch for it
        rt.log.debug("connection_budget_unknown", error=str(exc)[:200])
        return want
    room = limits.limit - limits.open_now + 1  # the checking connection is this host's own
    if want.total > room:
        rt.log.warning(
            "connection_budget_exceeded", may_open=want.total, room=room, cap=limits.binding,
            cap_value=limits.limit, open_now=limits.open_now, needs_at_least=want.minimum,
            hint=(f"this host may open {want.total} connections (app {want.app}, "
                  f"{want.workers} workers x {want.per_worker}) but {limits.binding} leaves {room}: "
                  "work still runs, waiting for connections; lower sys_db_pool_size / "
                  "worker_db_pool_size or raise the limit"))
    return want


def check_autovacuum(rt: Runtime) -> bool:
    """Log `autovacuum_off` when nothing will vacuum the queue tables: every workflow updates
    its row several times, and without vacuum the dead rows pile up, the claim's index walks
    over them and the pool slows down hour by hour (a 10-minute soak at 1,000 workflows/s with
    autovacuum off: 1.6M dead rows, 626 MB, completions 929 -> 667/s)."""
    try:
        on = rt.db.executors.autovacuum_on()
    except DBOSWorkersError as exc:
        rt.log.debug("autovacuum_unknown", error=str(exc)[:200])
        return True
    if not on:
        rt.log.warning("autovacuum_off", table="workflow_status",
                       hint="turn autovacuum on (server setting `autovacuum`, and no "
                            "autovacuum_enabled = off on the table), or VACUUM the system "
                            "tables on a schedule; see README, Operating")
    return on
