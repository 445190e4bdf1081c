"""One service run's metrics: the multiprocess directory, the aggregating collector and the
`/metrics` route (mounted on the probe port, or served standalone on `metrics_port`).

`begin` (launch, before the fork) makes the run's directory (unless PROMETHEUS_MULTIPROC_DIR
names one already: then it is the operator's, kept), points prometheus_client at it and
builds the instruments; `attach` (after the app's pool opens) adds the queue-depth reader and
the standalone server; `end` (destroy) stops serving and removes the directory it made.
A scrape first forgets the live-gauge files of processes that have exited (mark_process_dead):
their counters stay, so totals survive a worker's restart."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from ..errors import DBOSConfigError
from ..httpserve import HttpApp, HttpServer, Request, Response
from . import install

if TYPE_CHECKING:
    from ..config import Settings
    from ..db.observe import QueueDepth
    from ..runtime import Runtime

log = structlog.get_logger("dbos_workers.metrics")
ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")
DepthFn = Callable[[], "list[QueueDepth]"]
_current: MetricsRun | None = None


def current() -> MetricsRun | None:
    """This process's run (None: metrics are off)."""
    return _current


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsRun:
    def __init__(self, directory: Path, owned: bool) -> None:
        self.directory, self.owned = directory, owned
        self.depth: DepthFn | None = None
        self.clock_ms: Callable[[], int] | None = None
        self.server: HttpServer | None = None

    @classmethod
    def begin(cls, settings: Settings) -> MetricsRun | None:
        global _current
        if not settings.observability.enable_metrics:
            return None
        try:
            from prometheus_client import values
        except ImportError:
            raise DBOSConfigError("enable_metrics needs prometheus_client: "
                                  "pip install 'dbos-workers[metrics]'") from None
        from .instruments import Instruments

        given = os.environ.get(ENV)
        if given:
            directory, owned = Path(given), False
            directory.mkdir(parents=True, exist_ok=True)
        else:
            directory, owned = Path(tempfile.mkdtemp(prefix=f"dbw-metrics-{settings.name}-")), True
            os.environ[ENV] = str(directory)
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call] # whatever was imported before
        install(Instruments())
        _current = run = cls(directory, owned)
        log.info("metrics_enabled", directory=str(directory))
        return run

    def attach(self, depth: DepthFn, clock_ms: Callable[[], int], port: int | None, host: str) -> None:
        self.depth, self.clock_ms = depth, clock_ms
        if port is not None:
            app = HttpApp()
            metrics_routes(app, self)
            self.server = HttpServer(app, host, port)
            self.server.start()

    def attach_runtime(self, rt: Runtime) -> None:
        obs = rt.settings.observability
        self.attach(lambda: rt.db.observe.queue_depth([rt.settings.name]), rt.clock.now_ms,
                    obs.metrics_port, obs.metrics_host)

    def forget_dead(self) -> int:
        """mark_process_dead for every process whose live-gauge files remain but which exited."""
        from prometheus_client import multiprocess

        dead = set()
        for entry in os.listdir(self.directory):
            match = _LIVE_FILE.match(entry)
            if match and not _pid_alive(int(match.group(1))):
                dead.add(int(match.group(1)))
        for pid in dead:
            multiprocess.mark_process_dead(pid, str(self.directory))  # type: ignore[no-untyped-call]
        return len(dead)

    def render(self) -> tuple[bytes, str]:
        """The aggregate of every process's files plus the queue depth, in the text format."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        self.forget_dead()
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry, path=str(self.directory))  # type: ignore[no-untyped-call]
        registry.register(_DepthCollector(self))
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def end(self) -> None:
        global _current
        if self.server is not None:
            self.server.stop()
        install(None)
        from prometheus_client import values

        values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]
        values.ValueClass = values.MutexValue
        if self.owned:
            if os.environ.get(ENV) == str(self.directory):
                del os.environ[ENV]
            shutil.rmtree(self.directory, ignore_errors=True)
        if _current is self:
            _current = None


class _DepthCollector:
    """dbw_queue_depth{queue,status} and dbw_queue_head_age_seconds{queue}, read per scrape."""

    def __init__(self, run: MetricsRun) -> None:
        self.run = run

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        if self.run.depth is None or self.run.clock_ms is None:
            return
        try:
            rows = self.run.depth()
        except Exception as exc:
            log.warning("metrics_queue_depth_failed", error=str(exc)[:200])
            return
        depth = GaugeMetricFamily("dbw_queue_depth", "Workflows by queue and status (capped: see docs)",
                                  labels=("queue", "status"))
        age = GaugeMetricFamily("dbw_queue_head_age_seconds", "Age of the next ENQUEUED row to run",
                                labels=("queue",))
        now = self.run.clock_ms()
        for r in rows:
            depth.add_metric((r.queue_name, r.status), r.depth)
            if r.head_created_at is not None:
                age.add_metric((r.queue_name,), max(0, now - r.head_created_at) / 1000.0)
        yield depth
        yield age


def metrics_routes(app: HttpApp, run: MetricsRun | None = None, path: str = "/metrics") -> None:
    """Add GET `path` to `app` (the probe port mounts it this way). Without `run`, the
    process's current run at request time; 404 while metrics are off."""

    def handler(_: Request) -> Response:
        active = run or _current
        if active is None:
            return Response(404, "metrics are off (config enable_metrics)\n")
        body, content_type = active.render()
        return Response(200, body, content_type)

    app.route("GET", path, handler)
