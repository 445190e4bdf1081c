"""TCP options for every connection to the system database, so a dead network path is
noticed in seconds instead of the kernel's defaults (two hours of keepalive idle, about 15
minutes of retransmissions before a write fails).

- `keepalives*`: an idle connection (the listener, the elector between probes, an idle pooled
  connection) is probed after 5 s of silence, every 2 s, and declared dead after 3 misses.
- `tcp_user_timeout`: a connection with unacknowledged data (a statement sent into a silent
  partition) fails after 10 s instead of retransmitting for minutes; keepalives alone do not
  cover this case.
- `connect_timeout`: a connection attempt into a partition gives up after 10 s.

The URL wins: any of these given in the connection string (`?tcp_user_timeout=30000`, or
`keepalives=0`) is left as given. Over a Unix socket libpq ignores the TCP ones.
"""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import conninfo_to_dict

DEFAULTS: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
    "connect_timeout": 10,
}


def tcp_options(conninfo: str) -> dict[str, Any]:
    """The DEFAULTS the connection string does not set itself."""
    given = conninfo_to_dict(conninfo)
    return {k: v for k, v in DEFAULTS.items() if k not in given}
