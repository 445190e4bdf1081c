"""The dashboard as an HttpApp (mount it on the probe port, or serve it with
`dbos-workers dashboard`): server-rendered Jinja2 pages, no JavaScript build.

Security: with a token, every page and action needs it (`Authorization: Bearer <token>`, or
the HttpOnly SameSite=Strict cookie set by `/login?token=...`); nothing about a workflow is
readable without it (403). Actions (cancel, resume, fork when DBOS.fork_workflow exists) exist
only when enabled, are POST only, go through a confirm page, and carry a CSRF token: an HMAC
of the action and workflow id under a secret made at start; a cross-site POST also fails the
Origin check and carries no SameSite=Strict cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from ..httpserve import HttpApp, Request, Response
from .data import PAGE, STATUSES, DashboardData

COOKIE = "dbw_dashboard_token"


@dataclass
class DashboardOptions:
    token: str | None = None
    actions: bool = False
    prefix: str = ""  # where the app is mounted ("" standalone, e.g. "/dashboard")
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


def _fork_available() -> bool:
    from ..dbos import DBOS

    return hasattr(DBOS, "fork_workflow")


class Dashboard:
    def __init__(self, data: DashboardData, options: DashboardOptions) -> None:
        from jinja2 import Environment, PackageLoader, select_autoescape

        self.data, self.options = data, options
        self.env = Environment(loader=PackageLoader("dbos_workers.dashboard", "templates"),
                               autoescape=select_autoescape(["html"]))
        self.env.filters["ms"] = _fmt_ms
        self.actions = ("cancel", "resume", *(("fork",) if _fork_available() else ()))

    # plumbing ------------------------------------------------------------------------------
    def authorized(self, req: Request) -> bool:
        token = self.options.token
        if token is None:
            return True
        bearer = req.headers.get("authorization", "")
        given = bearer[7:] if bearer.lower().startswith("bearer ") else _cookie(req, COOKIE)
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    def csrf(self, action: str, workflow_id: str) -> str:
        return hmac.new(self.options.secret, f"{action}:{workflow_id}".encode(), hashlib.sha256).hexdigest()

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        page = self.env.get_template(template).render(p=self.options.prefix, actions=self.options.actions,
                                                      action_names=self.actions, **values)
        return Response(status, page, "text/html; charset=utf-8",
                        {"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'self'; "
                         "style-src 'unsafe-inline'", "Cache-Control": "no-store"})

    def guard(self, req: Request) -> Response | None:
        if not self.authorized(req):
            return Response(403, "forbidden: this dashboard needs its token (/login?token=...)\n")
        return None

    # pages ---------------------------------------------------------------------------------
    def login(self, req: Request) -> Response:
        given = req.arg("token") or ""
        token = self.options.token
        if token is None or not hmac.compare_digest(given.encode(), token.encode()):
            return Response(403, "forbidden\n")
        return Response(303, "", headers={"Location": f"{self.options.prefix}/",
                                          "Set-Cookie": f"{COOKIE}={quote(given)}; HttpOnly; SameSite=Strict; "
                                                        f"Path={self.options.prefix or '/'}"})

    def overview(self, req: Request) -> Response:
        d = self.data
        return self.guard(req) or self.render(
            "overview.html", queues=d.queues(), executors=d.executors(), leader=d.leader(),
            schedules=d.schedules(), now=d.now_ms())

    def workflows(self, req: Request) -> Response:
        if (denied := self.guard(req)) is not None:
            return denied
        status, queue, name = (req.arg(k) or None for k in ("status", "queue", "name"))
        before = None
        if req.arg("before_ms") and req.arg("before_id"):
            before = (int(req.arg("before_ms") or 0), req.arg("before_id") or "")
        rows = self.data.workflows(status if status in STATUSES else None, queue, name, before)
        filters = {k: v for k, v in (("status", status), ("queue", queue), ("name", name)) if v}
        more = None
        if len(rows) == PAGE:
            last = rows[-1]
            more = urlencode({**filters, "before_ms": last["created_at"], "before_id": last["workflow_uuid"]})
        return self.render("workflows.html", rows=rows, statuses=STATUSES, filters=filters, more=more)

    def workflow(self, req: Request) -> Response:
        if (denied := self.guard(req)) is not None:
            return denied
        rest = req.path[len(self.options.prefix + "/workflow/"):]
        workflow_id, _, action = rest.partition("/")
        if req.method == "POST":
            return self.act(req, workflow_id, action)
        if action:
            return self.confirm(workflow_id, action)
        found = self.data.workflow(workflow_id)
        if found is None:
            return self.render("missing.html", 404, workflow_id=workflow_id)
        return self.render("workflow.html", w=found, workflow_id=workflow_id,
                           csrf={a: self.csrf(a, workflow_id) for a in self.actions})

    def confirm(self, workflow_id: str, action: str) -> Response:
        if not self.options.actions or action not in self.actions:
            return Response(403, "actions are disabled\n" if not self.options.actions else "no such action\n")
        return self.render("confirm.html", workflow_id=workflow_id, action=action,
                           csrf=self.csrf(action, workflow_id))

    def act(self, req: Request, workflow_id: str, action: str) -> Response:
        if not self.options.actions or action not in self.actions:
            return Response(403, "actions are disabled\n")
        origin = req.headers.get("origin")
        if origin is not None and origin != "null" and origin.split("//", 1)[-1] != req.headers.get("host"):
            return Response(403, "cross-origin request refused\n")
        form = parse_qs(req.body.decode("utf-8", "replace"))
        given = (form.get("csrf") or [""])[0]
        if not hmac.compare_digest(given, self.csrf(action, workflow_id)):
            return Response(403, "bad CSRF token\n")
        if action == "cancel":
            self.data.cancel(workflow_id)
        elif action == "resume":
            self.data.resume(workflow_id)
        else:
            from ..dbos import DBOS

            step = int((form.get("start_step") or ["1"])[0])
            workflow_id = DBOS.fork_workflow(workflow_id, step).workflow_id
        return Response(303, "", headers={"Location": f"{self.options.prefix}/workflow/{quote(workflow_id)}"})


def dashboard_app(data: DashboardData, options: DashboardOptions | None = None) -> HttpApp:
    """The dashboard's routes; mount with `probe_app.mount(prefix, app)` after setting
    options.prefix to the same prefix."""
    dash = Dashboard(data, options or DashboardOptions())
    app = HttpApp()
    app.route("GET", "/", dash.overview)
    app.route("GET", "/login", dash.login)
    app.route("GET", "/workflows", dash.workflows)
    app.route("GET", "/workflow/", dash.workflow)
    app.route("POST", "/workflow/", dash.workflow)
    return app


def _cookie(req: Request, name: str) -> str | None:
    for part in req.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            from urllib.parse import unquote

            return unquote(value)
    return None


def _fmt_ms(value: int | None) -> str:
    if value is None:
        return ""
    import datetime

    return datetime.datetime.fromtimestamp(value / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
