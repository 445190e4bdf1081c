"""`dbos-workers` command line: run an app's worker pool as a service, migrate, reset."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path
from types import ModuleType

import structlog

from .dbos import DBOS
from .errors import DBOSWorkersError

log = structlog.get_logger("dbos_workers.cli")


def load_app(target: str) -> ModuleType:
    """Import MODULE (dotted) or FILE.py; the app defines DBOS(config=...) and its workflows."""
    sys.path.insert(0, os.getcwd())
    if target.endswith(".py") or os.sep in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise SystemExit(f"dbos-workers: no such file: {target}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"dbos-workers: cannot import {target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)


def cmd_start(args: argparse.Namespace) -> int:
    load_app(args.app)
    instance = DBOS._instance
    if instance is None:
        raise SystemExit(f"dbos-workers: {args.app} did not create DBOS(config=...)")
    if args.workers is not None:
        object.__setattr__(instance.settings, "worker_processes", args.workers)
    # A process-group SIGTERM (systemd, Ctrl-C) reaches the supervisor and workers directly:
    # they must drain with --drain-timeout too, not the default of 0.
    drain_timeout = instance.settings.drain_timeout_sec if args.drain_timeout is None else args.drain_timeout
    instance.lifecycle.drain_timeout_sec = drain_timeout
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _: object) -> None:
        received.append(signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    DBOS.launch()
    log.info("service_ready", app=args.app, workers=instance.settings.worker_processes, pid=os.getpid())
    while not stop.wait(1.0):
        supervisor = instance.lifecycle._supervisor
        if supervisor is not None and not supervisor.is_alive():
            log.error("supervisor_exited", exitcode=supervisor.exitcode)
            DBOS.destroy(workflow_completion_timeout_sec=0)
            return 1
    log.info("service_draining", signal=received[0] if received else None, timeout=drain_timeout)
    DBOS.destroy(workflow_completion_timeout_sec=drain_timeout)
    log.info("service_stopped")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .db import migrate

    migrate.ensure_database(args.url)
    applied = migrate.migrate(args.url, args.schema)
    log.info("migrate_done", applied=applied)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dbos-workers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="launch an app's worker pool; SIGTERM drains")
    start.add_argument("app", help="module (pkg.app) or file (app.py) that defines DBOS(config=...)")
    start.add_argument("--workers", type=int, default=None, help="worker processes (default: config)")
    start.add_argument("--drain-timeout", type=float, default=None,
                       help="seconds in-flight workflows may finish on SIGTERM "
                            "(default: config drain_timeout_sec, 30)")
    start.set_defaults(func=cmd_start)
    mig = sub.add_parser("migrate", help="create or upgrade the system schema")
    mig.add_argument("--url", required=True, help="postgresql:// URL of the system database")
    mig.add_argument("--schema", default="dbos_workers")
    mig.set_defaults(func=cmd_migrate)
    from .dashboard.cli import add_commands as add_dashboard_commands

    add_dashboard_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DBOSWorkersError as exc:
        print(f"dbos-workers: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
