"""systemd's notify protocol (sd_notify(3)): one datagram of `KEY=value` lines to the Unix
socket named by $NOTIFY_SOCKET ('@' = the abstract namespace). Without $NOTIFY_SOCKET every
call is a no-op, so the service runs the same under systemd, Kubernetes or a terminal.
$WATCHDOG_USEC (for this pid, if $WATCHDOG_PID is set) asks for WATCHDOG=1 at least that
often; we send it twice per period while the caller says the service makes progress."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("dbos_workers.service")


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env: Mapping[str, str] = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_sec = _watchdog_sec(env)
        self._socket: socket.socket | None = None
        self._last_watchdog = 0.0
        self._last_status = ""
        self.ready_sent = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send KEY=value lines (e.g. READY="1", STATUS="..."); False when not sent."""
        if self.address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(payload, self.address)
            return True
        except OSError as exc:
            log.warning("systemd_notify_failed", error=str(exc)[:200])
            return False

    def ready(self, status: str) -> None:
        if not self.ready_sent:
            self.ready_sent = self.send(READY="1", STATUS=status, MAINPID=str(os.getpid()))
            self._last_status = status

    def status(self, status: str) -> None:
        if status != self._last_status:
            self._last_status = status
            self.send(STATUS=status)

    def stopping(self, status: str) -> None:
        self._last_status = status
        self.send(STOPPING="1", STATUS=status)

    def watchdog(self, progressing: bool, now: float | None = None) -> None:
        """WATCHDOG=1 every half period, only while progressing (else systemd acts at the
        end of the period: the unit's WatchdogSec= restarts a stuck service)."""
        if self.watchdog_sec is None or not progressing:
            return
        now = time.monotonic() if now is None else now
        if now - self._last_watchdog >= self.watchdog_sec / 2 and self.send(WATCHDOG="1"):
            self._last_watchdog = now

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _address(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    return value


def _watchdog_sec(env: Mapping[str, str]) -> float | None:
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None
