"""The main process of `dbos-workers start` owns the platform's signal contract (it is the pid
systemd, Kubernetes and Heroku signal; the supervisor runs in its own process group):

- SIGTERM / SIGINT: drain (stop claiming, let in-flight workflows finish for the drain
  timeout, hand back the rest); a second one: hard stop. SIGQUIT: hard stop.
- SIGHUP (rolling restart of the workers from the code already loaded), SIGTTIN / SIGTTOU
  (one worker more / less): forwarded to the supervisor.
- The supervisor exiting by itself after a clean drain (someone signalled it) ends the
  service with exit 0; a failure (a worker failed at boot, the supervisor was killed) logs
  the reason and exits 1.

The loop (main thread) waits for a signal or a tick, dispatches, watches the supervisor and
feeds systemd (READY/STATUS/WATCHDOG/STOPPING). Draining runs DBOS.destroy on a thread, so
the loop still sees a second signal.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import threading
from typing import Any

import structlog

from ..dbos import DBOS
from .health import HealthMonitor
from .notify import SystemdNotifier
from .probes import ProbeServer
from .signals import DRAIN, FORWARDED, MainSignals

log = structlog.get_logger("dbos_workers.service")

TICK_SEC = 0.5


class Mode(enum.Enum):
    RUNNING = "running"
    DRAINING = "draining"
    STOPPING = "stopping"


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code == 3:
        return "a worker failed at boot (see worker_boot_failed)"
    return f"exit code {code}"


class ServiceRunner:
    def __init__(self, *, supervisor: Any, drain_timeout: float, signals: MainSignals,
                 notifier: SystemdNotifier, monitor: HealthMonitor,
                 probes: ProbeServer | None) -> None:
        self.supervisor, self.drain_timeout = supervisor, drain_timeout
        self.signals, self.notifier, self.monitor, self.probes = signals, notifier, monitor, probes
        self.mode = Mode.RUNNING
        self.exit_code = 0
        self._stopper: threading.Thread | None = None
        self.monitor.supervisor = supervisor

    def run(self) -> int:
        self.monitor.start()
        if self.probes is not None:
            self.probes.start()
            log.info("probes_listening", host=self.probes.host, port=self.probes.port)
        try:
            while not self._round():
                pass
        finally:
            if self.probes is not None:
                self.probes.stop(2.0)
            self.monitor.stop(2.0)
            self.notifier.close()
        return self.exit_code

    def _round(self) -> bool:
        """One loop round; True once the service has stopped."""
        for sig in self.signals.wait(TICK_SEC):
            self._dispatch(sig)
        self.monitor.loop_beat()
        if self.mode is Mode.RUNNING and self.supervisor is not None \
                and not self.supervisor.is_alive():
            self._on_supervisor_exit()
        self._notify()
        if self._stopper is not None and not self._stopper.is_alive():
            self._finish()
            return True
        return False

    def _dispatch(self, sig: signal.Signals) -> None:
        log.info("service_signal", signal=sig.name, mode=self.mode.value)
        if sig in DRAIN:
            if self.mode is Mode.RUNNING:
                self._drain(sig.name, self.drain_timeout)
            elif self.mode is Mode.DRAINING:
                self._hard_stop(f"second {sig.name}")
        elif sig == signal.SIGQUIT:
            if self.mode is not Mode.STOPPING:
                self._hard_stop(sig.name)
        elif sig in FORWARDED:
            self._forward(sig)

    def _forward(self, sig: signal.Signals) -> None:
        supervisor = self.supervisor
        if self.mode is not Mode.RUNNING or supervisor is None or not supervisor.is_alive():
            log.info("service_signal_ignored", signal=sig.name, mode=self.mode.value)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(supervisor.pid, sig)
            log.info("service_signal_forwarded", signal=sig.name, supervisor_pid=supervisor.pid)

    def _drain(self, reason: str, timeout: float) -> None:
        self.mode = Mode.DRAINING
        log.info("service_draining", signal=reason, timeout=timeout)
        self.notifier.stopping(f"draining ({reason}): up to {timeout:g} s")
        self._start_stopper(timeout)

    def _hard_stop(self, reason: str) -> None:
        self.mode = Mode.STOPPING
        log.info("service_stopping", reason=reason)
        self.notifier.stopping(f"stopping ({reason})")
        if self.supervisor is not None:
            self.supervisor.stop()  # SIGQUIT: workers hand back at once, SIGKILL after 2 s
        if self._stopper is None:
            self._start_stopper(0.0)

    def _start_stopper(self, timeout: float) -> None:
        def stop() -> None:
            try:
                DBOS.destroy(workflow_completion_timeout_sec=timeout)
            except Exception as exc:
                log.error("service_stop_failed", error=repr(exc)[:500])
                self.exit_code = 1
            self.signals.wakeup.set()

        self._stopper = threading.Thread(target=stop, name="dbw-service-stop", daemon=True)
        self._stopper.start()

    def _on_supervisor_exit(self) -> None:
        code = self.supervisor.exitcode
        if code == 0:
            log.info("supervisor_exited", exit_code=0, reason="drained")
        else:
            log.error("supervisor_exited", exit_code=code, reason=describe_exit(code))
            self.exit_code = 1
        self._drain("supervisor_exited", self.drain_timeout)

    def _finish(self) -> None:
        code = None if self.supervisor is None else self.supervisor.exitcode
        if code not in (None, 0) and self.exit_code == 0:
            log.error("supervisor_failed", exit_code=code, reason=describe_exit(code))
            self.exit_code = 1
        log.info("service_stopped", exit_code=self.exit_code)

    def _notify(self) -> None:
        if not self.notifier.enabled:
            return
        report = self.monitor.report()
        if self.mode is Mode.RUNNING:
            if report.ready:
                self.notifier.ready(report.summary())
            if self.notifier.ready_sent:
                self.notifier.status(report.summary())
            self.notifier.watchdog(report.live)
        else:
            self.notifier.watchdog(bool(report.checks["database"]))
