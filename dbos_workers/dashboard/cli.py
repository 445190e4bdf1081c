"""`dbos-workers dashboard`: the web dashboard over an application's system database."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading

import structlog

log = structlog.get_logger("dbos_workers.dashboard")


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cmd = subparsers.add_parser("dashboard", help="serve the web dashboard (read-only unless --actions)")
    cmd.add_argument("--url", default=os.environ.get("DBOS_SYSTEM_DATABASE_URL"),
                     help="postgresql:// URL of the system database (default: env DBOS_SYSTEM_DATABASE_URL)")
    cmd.add_argument("--schema", default="dbos_workers")
    cmd.add_argument("--app-name", required=True, help="the application's config name")
    cmd.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    cmd.add_argument("--port", type=int, default=8090)
    cmd.add_argument("--token", default=os.environ.get("DBOS_DASHBOARD_TOKEN"),
                     help="require this token for every page (default: env DBOS_DASHBOARD_TOKEN)")
    cmd.add_argument("--actions", action="store_true", help="enable cancel/resume (fork) actions")
    cmd.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from ..dbos import DBOS
    from . import serve
    from .app import DashboardOptions

    if not args.url:
        raise SystemExit("dbos-workers dashboard: --url (or DBOS_SYSTEM_DATABASE_URL) is required")
    DBOS(config={"name": args.app_name, "system_database_url": args.url, "dbos_system_schema": args.schema,
                 "worker_processes": 0, "executor_id": f"dashboard-{socket.gethostname()}-{os.getpid()}"})
    DBOS.launch()
    server = serve(DBOS._rt(), DashboardOptions(token=args.token, actions=args.actions), args.host, args.port)
    print(f"dashboard on http://{server.host}:{server.port}/", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    DBOS.destroy(workflow_completion_timeout_sec=0)
    return 0
