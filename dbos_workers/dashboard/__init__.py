"""The web dashboard (the `dashboard` extra: Jinja2): queues, workflows, one workflow,
executors and the leader, schedules; cancel/resume (and fork, where DBOS.fork_workflow
exists) behind a confirm, only when actions are enabled. See app.py for its security."""

from __future__ import annotations

from ..httpserve import HttpServer
from ..runtime import Runtime
from .app import DashboardOptions, dashboard_app
from .data import DashboardData

__all__ = ["DashboardData", "DashboardOptions", "dashboard_app", "serve"]


def serve(rt: Runtime, options: DashboardOptions | None = None, host: str = "127.0.0.1",
          port: int = 8090) -> HttpServer:
    """Start the dashboard on its own port (127.0.0.1 unless told otherwise)."""
    server = HttpServer(dashboard_app(DashboardData(rt), options), host, port)
    server.start()
    return server
