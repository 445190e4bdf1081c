"""The dashboard in a real headless browser (Debian's chromium driven by Playwright): the list
renders seeded workflows, the status filter works, the workflow page shows its steps, cancel
with the token works (confirm, CSRF-signed POST) and without it is refused with 403."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dbos_workers import DBOS, Queue
from dbos_workers.httpserve import HttpServer, Response
from tests.helpers import query

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.acceptance,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                 "(apt-get install -y chromium)")]
pytest.importorskip("jinja2")
playwright_api = pytest.importorskip("playwright.sync_api")

Launch = Callable[..., type[DBOS]]
TOKEN = "s3cret-token"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(launch: Launch) -> dict[str, list[str]]:
    @DBOS.step()
    def fetch(i: int) -> int:
        return i + 100

    @DBOS.step()
    def store(v: int) -> str:
        return f"stored-{v}"

    @DBOS.workflow()
    def pipeline(i: int) -> str:
        DBOS.set_event("progress", i)
        return store(fetch(i))

    @DBOS.workflow()
    def broken(i: int) -> None:
        raise RuntimeError(f"broken {i}")

    launch()  # worker_processes 0: queued rows stay ENQUEUED (nothing here claims them)
    ok = [DBOS.start_workflow(pipeline, i).workflow_id for i in range(6)]
    for wid in ok:
        DBOS.retrieve_workflow(wid).get_result()
    bad = []
    for i in range(3):
        handle = DBOS.start_workflow(broken, i)
        with pytest.raises(RuntimeError):
            handle.get_result()
        bad.append(handle.workflow_id)
    waiting = Queue("obs_dash_waiting")
    queued = [waiting.enqueue(pipeline, 50 + i).workflow_id for i in range(2)]
    return {"ok": ok, "bad": bad, "queued": queued}


@pytest.fixture
def dashboard(seeded: dict[str, list[str]]) -> Iterator[str]:
    from dbos_workers.dashboard import DashboardOptions, serve

    server: HttpServer = serve(DBOS._rt(), DashboardOptions(token=TOKEN, actions=True), port=0)
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def status_of(pg_url: str, schema: str, workflow_id: str) -> str:
    return str(query(pg_url, schema, "SELECT status FROM workflow_status WHERE workflow_uuid = %s",
                     workflow_id)[0]["status"])


def test_dashboard_in_a_browser(dashboard: str, seeded: dict[str, list[str]], tmp_path: Path,
                                pg_url: str, schema: str) -> None:
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            anonymous = browser.new_context()
            page = anonymous.new_page()
            assert page.goto(f"{dashboard}/workflows").status == 403  # nothing readable without it
            assert seeded["ok"][0] not in page.content()
            assert page.goto(f"{dashboard}/workflow/{seeded['ok'][0]}").status == 403

            ctx = browser.new_context(viewport={"width": 1200, "height": 800})
            page = ctx.new_page()
            assert page.goto(f"{dashboard}/login?token={TOKEN}").status == 200  # redirected to /
            assert page.locator("#queues").inner_text().count("obs_dash_waiting") == 1
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

            page.goto(f"{dashboard}/workflows")
            listed = page.locator("tr.wf td:first-child").all_inner_texts()
            assert set(seeded["ok"] + seeded["bad"] + seeded["queued"]) <= set(listed)
            page.screenshot(path=str(tmp_path / "workflows.png"), full_page=True)

            page.select_option("#status", "ERROR")
            page.click("#apply")
            page.wait_for_url("**status=ERROR**")
            statuses = page.locator("tr.wf .s").all_inner_texts()
            assert set(statuses) == {"ERROR"}
            assert set(page.locator("tr.wf td:first-child").all_inner_texts()) == set(seeded["bad"])
            page.screenshot(path=str(tmp_path / "workflows-error.png"), full_page=True)

            page.goto(f"{dashboard}/workflow/{seeded['ok'][0]}")
            steps = page.locator("tr.step td:nth-child(2)").all_inner_texts()
            assert [s.rsplit(".", 1)[-1] for s in steps] == ["setEvent", "fetch", "store"], steps
            assert "stored-100" in page.locator("#steps").inner_text()
            assert "progress" in page.locator("#events").inner_text()
            page.screenshot(path=str(tmp_path / "workflow.png"), full_page=True)
            if os.environ.get("DBOS_WORKERS_SAVE_SCREENSHOT"):  # refresh the README's picture
                shutil.copy(tmp_path / "workflow.png", REPO / "docs" / "dashboard.png")

            target, other = seeded["queued"]
            page.goto(f"{dashboard}/workflow/{target}")
            page.click("#action-cancel")
            page.wait_for_selector("#confirm")
            csrf = page.locator("input[name=csrf]").get_attribute("value")
            page.screenshot(path=str(tmp_path / "confirm.png"), full_page=True)
            page.click("#confirm")
            page.wait_for_selector("#wf-status")
            assert page.locator("#wf-status").inner_text() == "CANCELLED"
            assert status_of(pg_url, schema, target) == "CANCELLED"

            # without the token: refused, even with a CSRF value lifted from a page
            refused = anonymous.request.post(f"{dashboard}/workflow/{other}/cancel", form={"csrf": str(csrf)})
            assert refused.status == 403
            # with the token but not the action's CSRF value: refused
            forged = ctx.request.post(f"{dashboard}/workflow/{other}/cancel", form={"csrf": str(csrf)})
            assert forged.status == 403
            assert status_of(pg_url, schema, other) == "ENQUEUED"
        finally:
            browser.close()
    assert {p.name for p in tmp_path.glob("*.png")} >= {"overview.png", "workflows.png", "workflow.png"}


def test_read_only_unless_actions_enabled(seeded: dict[str, list[str]], pg_url: str, schema: str) -> None:
    from dbos_workers.dashboard import DashboardOptions, serve

    server = serve(DBOS._rt(), DashboardOptions(), port=0)  # no token, no actions
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{base}/workflow/{seeded['ok'][1]}") as resp:
            body = resp.read().decode()
        assert resp.status == 200 and "fetch" in body and "action-cancel" not in body
        target = seeded["queued"][0]
        request = urllib.request.Request(f"{base}/workflow/{target}/cancel", data=b"csrf=x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 403
        assert status_of(pg_url, schema, target) == "ENQUEUED"
        # a value this process cannot load is shown as stored, not a 500
        broken = seeded["ok"][2]
        query(pg_url, schema, "UPDATE workflow_status SET inputs = 'not-a-pickle!' WHERE workflow_uuid = %s", broken)
        with urllib.request.urlopen(f"{base}/workflow/{broken}") as resp:
            assert resp.status == 200 and "not-a-pickle!" in resp.read().decode()
    finally:
        server.stop()


def test_mounted_on_a_probe_app_under_a_prefix(seeded: dict[str, list[str]]) -> None:
    from dbos_workers.dashboard import DashboardData, DashboardOptions, dashboard_app
    from dbos_workers.httpserve import HttpApp

    probe = HttpApp()
    probe.route("GET", "/healthz", lambda _: Response(200, "ok\n"))
    probe.mount("/dashboard", dashboard_app(DashboardData(DBOS._rt()),
                                            DashboardOptions(token=TOKEN, prefix="/dashboard")))
    server = HttpServer(probe, "127.0.0.1", 0)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/dashboard/workflows")
        assert denied.value.code == 403
        request = urllib.request.Request(f"{base}/dashboard/workflows?status=ERROR",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request) as resp:
            body = resp.read().decode()
        assert all(w in body for w in seeded["bad"]) and not any(w in body for w in seeded["ok"])
        assert 'href="/dashboard/workflow/' in body  # links carry the mount prefix
    finally:
        server.stop()


def test_cli_dashboard_serves_on_localhost_with_a_token(seeded: dict[str, list[str]], pg_url: str,
                                                        schema: str) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dbos_workers.cli", "dashboard", "--url", pg_url,
                             "--schema", schema, "--app-name", "test-app", "--port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("dashboard on http://127.0.0.1:"), line
        base = line.split()[-1].rstrip("/")
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/workflow/{seeded['ok'][0]}")
        assert denied.value.code == 403
        request = urllib.request.Request(f"{base}/workflow/{seeded['ok'][0]}",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request) as resp:
            body = resp.read().decode()
        assert "stored-100" in body and "action-cancel" not in body  # read-only without --actions
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
