"""The probe/admin HTTP server: routing, mounting, errors; a real socket on 127.0.0.1."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from dbos_workers.httpserve import HttpApp, HttpServer, Request, Response


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_routes_prefixes_mounts_and_failures() -> None:
    sub = HttpApp()
    sub.route("GET", "/", lambda r: Response(200, "sub-index"))
    sub.route("GET", "/w/", lambda r: Response(200, "wf " + r.path.rsplit("/", 1)[-1]))
    app = HttpApp()
    app.route("GET", "/healthz", lambda r: Response(200, "ok " + (r.arg("x") or "")))
    app.route("POST", "/echo", lambda r: Response(201, r.body, headers={"X-T": "1"}))

    def broken(_: Request) -> Response:
        raise RuntimeError("boom")

    app.route("GET", "/broken", broken)
    app.mount("/dash", sub)
    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert _get(base + "/healthz?x=1") == (200, b"ok 1")
        assert _get(base + "/echo", b"hello") == (201, b"hello")
        assert _get(base + "/dash/") == (200, b"sub-index")
        assert _get(base + "/dash/w/abc") == (200, b"wf abc")
        assert _get(base + "/nope")[0] == 404
        assert _get(base + "/healthz", b"x")[0] == 405
        assert _get(base + "/broken")[0] == 500
        assert _get(base + "/healthz")[0] == 200  # still serving after a handler failed
    finally:
        assert server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/healthz", timeout=2)
