"""TCP options on every connection to the system database (db/netopts.py): a silent network
path is noticed in seconds. Checked on the connections the library really opens."""

from __future__ import annotations

import psycopg

from dbos_workers.db import migrate, netopts
from dbos_workers.db.leader import LeaderSession
from dbos_workers.db.repository import Repository, connect_direct


def test_defaults_apply_where_the_url_is_silent_and_the_url_wins() -> None:
    assert netopts.tcp_options("postgresql://u@h/db") == netopts.DEFAULTS
    given = netopts.tcp_options("postgresql://u@h/db?tcp_user_timeout=30000&keepalives=0")
    assert "tcp_user_timeout" not in given and "keepalives" not in given
    assert given["keepalives_idle"] == 5 and given["connect_timeout"] == 10


def _params(conn: psycopg.Connection[object]) -> dict[str, str]:
    return conn.info.get_parameters()


def test_pooled_direct_and_elector_connections_carry_the_tcp_options(pg_url: str, schema: str) -> None:
    migrate.migrate(pg_url, schema)
    url = pg_url + ("&" if "?" in pg_url else "?") + "keepalives_count=7"
    repo = Repository(url, schema=schema, channel="c", pool_size=1)
    repo.open()
    try:
        with repo._pool.connection() as pooled:
            params = _params(pooled)
    finally:
        repo.close()
    with connect_direct(url) as direct:
        direct_params = _params(direct)
    session = LeaderSession(url, schema, "app", instance_id="i", executor_id="e")
    try:
        session._one("leader_current", key=session.key)
        assert session._conn is not None
        elector_params = _params(session._conn)
    finally:
        session.close()
    for seen in (params, direct_params, elector_params):
        if "host" in seen and seen["host"].startswith("/"):
            continue  # a Unix socket: libpq keeps the options but TCP never applies
        assert seen["tcp_user_timeout"] == "10000", seen
        assert seen["keepalives_idle"] == "5" and seen["keepalives_interval"] == "2", seen
        assert seen["keepalives_count"] == "7", seen  # the URL's own value wins
