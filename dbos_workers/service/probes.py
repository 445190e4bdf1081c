"""HTTP probes on the service's optional probe port (dbos_workers/httpserve.py): `/healthz`
(liveness) and `/readyz` (readiness) answer 200 or 503 with the checks as JSON. `ProbeServer.app`
is the HttpApp: /metrics and the dashboard mount on the same port. `probe` is the client used
by `dbos-workers health` (an exec probe)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from ..httpserve import HttpApp, HttpServer, Request, Response
from .health import HealthMonitor, HealthReport


class ProbeServer:
    def __init__(self, monitor: HealthMonitor, host: str = "127.0.0.1", port: int = 0,
                 app: HttpApp | None = None) -> None:
        self.monitor = monitor
        self.app = app or HttpApp()
        for method in ("GET", "HEAD"):
            self.app.route(method, "/healthz", self._healthz)
            self.app.route(method, "/readyz", self._readyz)
        self.server = HttpServer(self.app, host, port)
        self.host, self.port = self.server.host, self.server.port

    def start(self) -> None:
        self.server.start()

    def stop(self, timeout: float = 5.0) -> bool:
        return self.server.stop(timeout)

    def _healthz(self, _request: Request) -> Response:
        report = self.monitor.report()
        return _answer(report.live, report)

    def _readyz(self, _request: Request) -> Response:
        report = self.monitor.report()
        return _answer(report.ready, report)


def _answer(ok: bool, report: HealthReport) -> Response:
    body = json.dumps({"ok": ok, "live": report.live, "ready": report.ready,
                       "checks": report.checks}, sort_keys=True)
    return Response(200 if ok else 503, body + "\n", "application/json")


def probe(host: str, port: int, path: str, timeout: float) -> tuple[int, str]:
    """(HTTP status, body) of GET path; status 0 when nothing answers."""
    url = f"http://{host}:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status), reply.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"no answer from {url}: {exc}"
