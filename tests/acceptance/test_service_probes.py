"""systemd notify and the health probes of `dbos-workers start`, through a Postgres outage.

The service reaches Postgres through the chaos TCP proxy; the test binds the datagram socket
named by NOTIFY_SOCKET. Asserted: READY=1 with a STATUS line, WATCHDOG=1 at the WATCHDOG_USEC
pace, `/healthz`, `/readyz` and `dbos-workers health` failing within seconds of the outage
(stalled and cut connections) and WATCHDOG=1 stopping, all of them back after it, STOPPING=1
and exit 0 on SIGTERM, and one JSON stream on stderr throughout."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dbos_workers.logging import DATABASE_EVENTS
from tests.acceptance.apps.harness import APPS_DIR, REPO_ROOT, AppProcess, base_env, cli_command
from tests.chaos.proxy import ChaosProxy
from tests.helpers import wait_until

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]

Spawn = Callable[..., AppProcess]


class NotifySocket:
    """The systemd side: a bound datagram socket and every message received, with its time."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dbw-notify-"))
        self.path = str(self.dir / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def having(self, key: str, since: float = 0.0) -> list[dict[str, str]]:
        return [m for t, m in list(self.messages) if key in m and t >= since]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    listener = NotifySocket()
    yield listener
    listener.close()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[tuple[ChaosProxy, str]]:
    parts = urlsplit(pg_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    port = parts.port or 5432
    upstream: str | tuple[str, int] = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
    chaos = ChaosProxy(upstream)
    yield chaos, f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{chaos.port}{parts.path}"
    chaos.stalled.clear()
    chaos.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def health(port: int, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_command(), "health", "--probe-port", str(port), *flags],
                          env=base_env(), capture_output=True, text=True, timeout=30)


def probes_are(port: int, status: int) -> bool:
    return http_status(port, "/healthz") == status and http_status(port, "/readyz") == status


def test_notify_and_probes_follow_a_postgres_outage(
        spawn: Spawn, app_env: dict[str, str], proxy: tuple[ChaosProxy, str],
        notify: NotifySocket) -> None:
    chaos, url = proxy
    port = free_port()
    env = {**app_env, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"}
    argv = [*cli_command(), "start", str(APPS_DIR / "service_app.py"), "--workers", "2",
            "--url", url, "--probe-port", str(port)]
    service = spawn(argv, env, REPO_ROOT, new_session=True)
    ready = wait_until(lambda: notify.having("READY"), 60)[0]
    assert ready["READY"] == "1" and ready["STATUS"].startswith("workers 2, in flight 0")
    assert ready["MAINPID"] == str(service.pid)
    wait_until(lambda: len(notify.having("WATCHDOG")) >= 3, 20)
    assert probes_are(port, 200)
    assert health(port).returncode == 0 and health(port, "--live").returncode == 0
    body = json.loads(health(port).stdout)
    assert body["ready"] and body["checks"]["migrated"] and body["checks"]["workers"] == 2

    chaos.stalled.set()
    chaos.cut()
    began = time.monotonic()
    wait_until(lambda: probes_are(port, 503), 20, interval=0.2)
    flipped = time.monotonic() - began
    assert flipped < 15, flipped
    assert health(port).returncode == 1 and health(port, "--live").returncode == 1
    quiet_from = time.monotonic() + 1.0  # a WATCHDOG=1 already decided may still land
    time.sleep(4.0)  # observing an absence: no WATCHDOG=1 for 3 s (0.5 s apart when healthy)
    assert not notify.having("WATCHDOG", since=quiet_from)
    print(f"\nprobes failing {flipped:.1f} s after the outage began")

    chaos.stalled.clear()
    resumed = time.monotonic()
    wait_until(lambda: probes_are(port, 200), 60, interval=0.2)
    assert health(port).returncode == 0
    wait_until(lambda: notify.having("WATCHDOG", since=resumed), 20)

    service.signal(signal.SIGTERM)
    assert service.wait(40) == 0, service.stderr()[-3000:]
    assert notify.having("STOPPING")[0]["STOPPING"] == "1"
    lines = [ln for ln in service.stderr().splitlines() if ln.strip()]
    assert lines and all(ln.startswith("{") and ln.endswith("}") for ln in lines), \
        [ln for ln in lines if not ln.startswith("{")][:5]
    events = [json.loads(ln) for ln in lines]
    assert all(isinstance(e.get("pid"), int) for e in events)
    pool_lines = [e for e in events if str(e.get("logger", "")).startswith("psycopg")]
    assert all(e["level"] == "warning" for e in pool_lines)  # JSON too, not plain text
    repeats = Counter((e["pid"], e["event"]) for e in events if e["event"] in DATABASE_EVENTS)
    assert repeats and max(repeats.values()) <= 2, repeats  # rate-limited: 10 s windows
