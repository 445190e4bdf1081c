"""Postgres administration through the client tools (psql, pgbench), so the driver needs no
database driver of its own: one fresh database per system per run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def tool(name: str) -> str:
    found = shutil.which(name) or (str(PG_BIN / name) if (PG_BIN / name).exists() else None)
    if found is None:
        raise SystemExit(f"{name} not found: install the Postgres client tools")
    return found


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def psql(url: str, sql: str) -> str:
    out = subprocess.run([tool("psql"), url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"psql failed on {sql!r}: {out.stderr.strip()}")
    return out.stdout.strip()


def fresh_database(url: str, database: str) -> str:
    """Drop and create `database` on the server of `url`; returns its URL."""
    admin = with_database(url, "postgres")
    psql(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql(admin, f'CREATE DATABASE "{database}"')
    return with_database(url, database)


def server_facts(url: str) -> dict[str, str]:
    keys = ["server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers",
            "max_connections", "commit_delay"]
    values = psql(with_database(url, "postgres"),
                  "SELECT string_agg(name || '=' || setting, ';') FROM pg_settings WHERE name = ANY("
                  "ARRAY[" + ",".join(f"'{k}'" for k in keys) + "])")
    return dict(kv.split("=", 1) for kv in values.split(";") if "=" in kv)


def pgbench_insert_tps(url: str, clients: int, seconds: int, workdir: Path) -> float:
    """Commit rate of one-row INSERT transactions (autocommit, one statement each)."""
    script = workdir / "pgbench_insert.sql"
    script.write_text("INSERT INTO bench_commit (v) VALUES (1);\n")
    psql(url, "DROP TABLE IF EXISTS bench_commit; "
              "CREATE TABLE bench_commit (id bigserial PRIMARY KEY, v int NOT NULL)")
    cmd = [tool("pgbench"), "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
           "-T", str(seconds), "-f", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"pgbench failed: {out.stderr.strip()}")
    match = re.search(r"tps = ([0-9.]+)", out.stdout)
    return float(match.group(1)) if match else 0.0
