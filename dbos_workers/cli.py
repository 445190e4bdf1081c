"""dbos-workers: run an app's worker pool as a service, migrate its system database, probe it.

Signals to the main process of `start`: SIGTERM/SIGINT drain (in-flight workflows finish for
--drain-timeout, the rest go back to their queue; a second SIGTERM/SIGINT stops at once),
SIGQUIT stops at once, SIGTTIN/SIGTTOU add/remove one worker, SIGHUP restarts the workers one
by one from the code already loaded in this process (it does not load new code: restart the
service to deploy). Every command reads DBOS_SYSTEM_DATABASE_URL unless --url is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import structlog

from .dbos import DBOS
from .errors import DBOSConfigError, DBOSWorkersError
from .logging import configure
from .service.health import HealthMonitor
from .service.notify import SystemdNotifier
from .service.probes import ProbeServer, probe
from .service.runner import ServiceRunner
from .service.signals import MainSignals
from .service.startup import AppLoadError, apply_overrides, load_app, wait_for_database, warn_if_embedded

log = structlog.get_logger("dbos_workers.cli")

URL_ENV = "DBOS_SYSTEM_DATABASE_URL"
PROBE_PORT_ENV = "DBOS_WORKERS_PROBE_PORT"


def cmd_start(args: argparse.Namespace) -> int:
    signals = MainSignals()
    signals.install()  # queued until the loop runs: a SIGTERM during startup is not lost
    if args.url:
        os.environ[URL_ENV] = args.url  # apps that read it into their config see it too
    load_app(args.app)
    instance = DBOS._instance
    if instance is None:
        raise AppLoadError(f"{args.app} did not create DBOS(config=...)")
    apply_overrides(instance, url=args.url, workers=args.workers)
    lifecycle = instance.lifecycle
    settings = lifecycle.settings
    if settings.worker_processes < 1:
        raise DBOSConfigError("start runs a worker pool: config worker_processes is 0, pass "
                              "--workers N (an app process that only enqueues needs no start)")
    configure(settings.log_level)
    drain = settings.drain_timeout_sec if args.drain_timeout is None else args.drain_timeout
    lifecycle.drain_timeout_sec = drain  # also what a signal to the supervisor alone uses
    lifecycle.own_process_group = True  # the platform signals this pid; it forwards
    warn_if_embedded(instance)
    notifier = SystemdNotifier()
    if settings.database_url is not None:
        notifier.send(STATUS="waiting for the system database")
        wait = settings.database_wait_sec if args.db_wait is None else args.db_wait
        if not wait_for_database(settings.database_url, wait, signals.pending_stop):
            return 0 if signals.pending_stop() else 1
    if signals.pending_stop():
        log.info("service_stopped", exit_code=0, reason="signalled before launch")
        return 0
    monitor = HealthMonitor(settings.database_url or "", settings.schema, settings.executor_id,
                            heartbeat_timeout_sec=settings.heartbeat_timeout_sec)
    probes = _probe_server(args, settings, monitor)  # bound before launch: a taken port is exit 2
    DBOS.launch()
    monitor.url = lifecycle.database_url()
    log.info("service_ready", app=args.app, workers=settings.worker_processes, pid=os.getpid(),
             drain_timeout=drain)
    runner = ServiceRunner(supervisor=lifecycle._supervisor, drain_timeout=drain,
                           signals=signals, notifier=notifier, monitor=monitor, probes=probes)
    return runner.run()


def _probe_server(args: argparse.Namespace, settings: Any, monitor: HealthMonitor
                  ) -> ProbeServer | None:
    port = args.probe_port if args.probe_port is not None else settings.probe_port
    if port is None:
        return None
    host = args.probe_host or settings.probe_host
    try:
        server = ProbeServer(monitor, host, port)
    except OSError as exc:
        raise DBOSConfigError(f"probe port {host}:{port}: {exc.strerror or exc}") from None
    from .metrics.run import metrics_routes  # /metrics beside the probes (404 while metrics are off)

    metrics_routes(server.app)
    return server


def cmd_migrate(args: argparse.Namespace) -> int:
    from .db import migrate

    url = _url(args)
    migrate.ensure_database(url)
    applied = migrate.migrate(url, args.schema)
    log.info("migrate_done", applied=applied)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    port = args.probe_port or int(os.environ.get(PROBE_PORT_ENV) or 0)
    if not port:
        raise DBOSConfigError(f"health needs --probe-port (or {PROBE_PORT_ENV}): the port "
                              "`start --probe-port` serves")
    status, body = probe(args.probe_host, port, "/healthz" if args.live else "/readyz",
                         args.timeout)
    print(body.strip())
    return 0 if status == 200 else 1


def _url(args: argparse.Namespace) -> str:
    url: str | None = args.url or os.environ.get(URL_ENV)
    if not url:
        raise DBOSConfigError(f"no database: pass --url or set {URL_ENV}")
    return url


def _number(kind: Callable[[str], float], minimum: float, maximum: float | None = None
            ) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value
    return parse


def _add_start(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = sub.add_parser(
        "start", help="run an app's worker pool as a service (see the signals above)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    start.add_argument("app", help="module (pkg.app) or file (app.py) that defines DBOS(config=...)")
    start.add_argument("--url", default=None,
                       help=f"system database URL (default: the app's config, then ${URL_ENV}; "
                            "none: a Postgres private to this host)")
    start.add_argument("--workers", type=_number(int, 1, 256), default=None,
                       help="worker processes, 1-256 (default: config worker_processes)")
    start.add_argument("--drain-timeout", type=_number(float, 0), default=None,
                       help="seconds in-flight workflows may finish on SIGTERM (default: config "
                            "drain_timeout_sec, 20; workers get 5 s more before SIGKILL)")
    start.add_argument("--db-wait", type=_number(float, 0), default=None,
                       help="seconds to retry an unreachable database at startup before "
                            "exiting 1 (default: config database_wait_sec, 60)")
    start.add_argument("--probe-port", type=_number(int, 1, 65535), default=None,
                       help="serve /healthz and /readyz on this port (default: config probe_port; off)")
    start.add_argument("--probe-host", default=None,
                       help="address of the probe port (default: config probe_host, 127.0.0.1)")
    start.set_defaults(func=cmd_start)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dbos-workers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_start(sub)
    mig = sub.add_parser("migrate", help="create or upgrade the system schema")
    mig.add_argument("--url", default=None, help=f"system database URL (default: ${URL_ENV})")
    mig.add_argument("--schema", default="dbos_workers")
    mig.set_defaults(func=cmd_migrate)
    health = sub.add_parser("health", help="ask a running service's probe port; exit 0 when "
                                           "ready (--live: alive), 1 otherwise (exec probes)")
    health.add_argument("--probe-port", type=_number(int, 1, 65535), default=None,
                        help=f"the service's --probe-port (default: ${PROBE_PORT_ENV})")
    health.add_argument("--probe-host", default="127.0.0.1")
    health.add_argument("--live", action="store_true", help="liveness (/healthz) instead of /readyz")
    health.add_argument("--timeout", type=_number(float, 0.1), default=5.0)
    health.set_defaults(func=cmd_health)
    from .admin_cli import add_commands  # workflow ..., queue list, reset (issue 13)

    add_commands(sub)
    from .dashboard.cli import add_commands as add_dashboard_commands

    add_dashboard_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (AppLoadError, DBOSConfigError) as exc:
        print(f"dbos-workers: {exc}", file=sys.stderr)
        return 2
    except DBOSWorkersError as exc:
        log.error("service_failed", error=str(exc)[:500])
        return 1


if __name__ == "__main__":
    sys.exit(main())
