"""A streaming replica of the fabric's private Postgres (pg_basebackup), synchronous so that
what the primary acknowledged is on the replica, promotable under load."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.chaos.netns import PG_BIN, Postgres, sh
from tests.helpers import wait_until


class Standby(Postgres):
    def __init__(self, base: Path, primary: Postgres, port: int) -> None:
        super().__init__(base, primary.address, port)
        self.home = base / "pg-standby"
        self.data, self.logfile = self.home / "data", self.home / "postgres.log"
        self.primary = primary

    def init(self) -> None:
        self.home.mkdir(mode=0o755)
        shutil.chown(self.home, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "pg_basebackup"), "-h", self.primary.address, "-p", str(self.primary.port),
                          "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(f"port = {self.port}\nunix_socket_directories = '{self.data}'\n")
        self.start()

    def make_synchronous(self) -> None:
        """Commits on the primary wait for this standby from now on."""
        psql = [str(PG_BIN / "psql"), "-h", self.primary.address, "-p", str(self.primary.port), "-U", "postgres",
                "-tAc"]
        sh(*psql, "ALTER SYSTEM SET synchronous_standby_names = '*'")
        sh(*psql, "SELECT pg_reload_conf()")
        wait_until(lambda: sh(*psql, "SELECT sync_state FROM pg_stat_replication").stdout.strip() == "sync", 30, 0.2)

    def promote(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote")


def multi_host_url(primary: Postgres, standby: Postgres) -> str:
    """libpq's multi-host URL: the first host that accepts read-write sessions."""
    return (f"postgresql://postgres@{primary.address}:{primary.port},{standby.address}:{standby.port}"
            "/chaos?target_session_attrs=read-write")
