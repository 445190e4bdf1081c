"""One small HTTP server for the probe / admin port: health probes, `/metrics` and the
dashboard mount their routes on it. Stdlib only (ThreadingHTTPServer), so a service without
the optional extras still answers probes. Handlers take a `Request` and return a `Response`;
they never touch the socket."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import structlog

log = structlog.get_logger("dbos_workers.http")

MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    remote: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


Handler = Callable[[Request], Response]


class HttpApp:
    """Routes by method and path. A route ending in '/' matches that prefix (longest wins);
    otherwise the path must match exactly."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Handler] = {}
        self._prefix: list[tuple[str, str, Handler]] = []

    def route(self, method: str, path: str, handler: Handler) -> None:
        if path.endswith("/") and path != "/":
            self._prefix.append((method.upper(), path, handler))
            self._prefix.sort(key=lambda r: -len(r[1]))
        else:
            self._exact[(method.upper(), path)] = handler

    def mount(self, prefix: str, app: HttpApp) -> None:
        """Serve `app`'s routes under `prefix` (e.g. '/dashboard')."""
        prefix = prefix.rstrip("/")
        for (method, path), handler in app._exact.items():
            self.route(method, prefix + path, handler)
        for method, path, handler in app._prefix:
            self.route(method, prefix + path, handler)

    def find(self, method: str, path: str) -> Handler | None:
        handler = self._exact.get((method, path))
        if handler is not None:
            return handler
        for m, prefix, h in self._prefix:
            if m == method and path.startswith(prefix):
                return h
        return None

    def __call__(self, request: Request) -> Response:
        handler = self.find(request.method, request.path)
        if handler is None:
            known = any(p == request.path for (_, p) in self._exact)
            return Response(405 if known else 404, "method not allowed\n" if known else "not found\n")
        try:
            return handler(request)
        except Exception as exc:  # a broken page must not take the probe port down
            log.exception("http_handler_failed", path=request.path, error=repr(exc))
            return Response(500, "internal error\n")


class HttpServer:
    """`HttpServer(app, host, port).start()`; port 0 picks a free one (see `.port`)."""

    name = "http-server"

    def __init__(self, app: HttpApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server = ThreadingHTTPServer((host, port), _handler_class(app))
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="dbw-http",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        log.info("http_server_started", host=self.host, port=self.port)

    def stop(self, timeout: float = 5.0) -> bool:
        if self._thread is None:
            return True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)
        return not self._thread.is_alive()


def _handler_class(app: HttpApp) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "dbos-workers"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, url.path or "/", parse_qs(url.query),
                              {k.lower(): v for k, v in self.headers.items()}, body,
                              self.client_address[0])
            response = app(request)
            payload = response.payload()
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # access logs stay out of the JSON stream

    return _Handler
