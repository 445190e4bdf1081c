"""One LISTEN connection per process. Notifications are hints, never data: a payload names
what changed and wakes whoever waits on that key. Four channels: the work channel carries
`q:<queue>` (runnable work) and `Q:<queue>` (its row changed) for the workers; the cancel
channel `x:<workflow>` (stop it) for every process; the done channel `c:<workflow>`
(finished), `m:<workflow>::<topic>` (message), `e:<workflow>::<key>` (event) and
`s:<workflow>::<key>` (stream value) only for a process with waiters, so a busy pool does not
fan every completion out to every worker, nor every enqueue to the app processes; the parked
channel `p:<workflow name>` (rows of a name their claimer did not know) for claimers.

Waiters register *before* they check the database, so a notification that lands between the
check and the wait is never lost; they still re-check on a polling backstop. After a
reconnect every waiter and queue callback is woken to catch up on what was missed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import structlog

from .. import metrics
from ..services import ThreadService
from .queries import load_queries
from .repository import Backoff, compose, connect_direct, mask_url

log = structlog.get_logger("dbos_workers.listener")


def wake_key(prefix: str, key: str) -> str:
    """The payload for a key; long keys are hashed (NOTIFY payloads are capped at 8000 bytes).
    Mirrors the SQL function wake_key() of migration 0003."""
    if len(key.encode()) <= 1000:
        return prefix + key
    return prefix + "#" + hashlib.md5(key.encode()).hexdigest()


class Waiters:
    """Events keyed by notification payload."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, set[threading.Event]] = {}
        self._queue_callbacks: list[Callable[[str | None], None]] = []
        self._cancel_hooks: list[Callable[[str], None]] = []
        self._parked_hooks: list[Callable[[str | None], None]] = []
        self._queue_row_hooks: list[Callable[[str | None], None]] = []

    @contextlib.contextmanager
    def watch(self, *keys: str, event: threading.Event | None = None) -> Iterator[threading.Event]:
        """One event, set by a payload on any of the keys (e.g. a stream's values and its
        writer's completion; the first of several workflows to finish); `event`: the caller's
        (an async waiter's LoopWake)."""
        event = event if event is not None else threading.Event()
        with self._lock:
            for key in keys:
                self._events.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            with self._lock:
                for key in keys:
                    events = self._events.get(key)
                    if events is not None:
                        events.discard(event)
                        if not events:
                            del self._events[key]

    def on_queue(self, callback: Callable[[str | None], None]) -> None:
        """callback(queue_name) on `q:` payloads; callback(None) after a reconnect."""
        self._queue_callbacks.append(callback)

    def on_cancel(self, hook: Callable[[str], None]) -> None:
        """hook(wake key of a workflow id) on `x:` payloads (a workflow was cancelled)."""
        self._cancel_hooks.append(hook)

    def on_parked(self, hook: Callable[[str | None], None]) -> None:
        """hook(wake key of a workflow name) on `p:` payloads; hook(None) after a reconnect."""
        self._parked_hooks.append(hook)

    def on_queue_row(self, hook: Callable[[str | None], None]) -> None:
        """hook(queue name key) on `Q:` payloads (a queue's row changed); hook(None) after a
        reconnect."""
        self._queue_row_hooks.append(hook)

    def dispatch(self, payload: str) -> None:
        if payload.startswith("Q:"):
            for changed in self._queue_row_hooks:
                changed(payload[2:])
            return
        if payload.startswith("p:"):
            for parked in self._parked_hooks:
                parked(payload[2:])
            return
        if payload.startswith("q:"):
            for callback in self._queue_callbacks:
                callback(payload[2:])
            return
        if payload.startswith("x:"):
            for hook in self._cancel_hooks:
                hook(payload[2:])
            return
        with self._lock:
            events = list(self._events.get(payload, ()))
        for event in events:
            event.set()

    def wake_all(self) -> None:
        with self._lock:
            events = [e for es in self._events.values() for e in es]
        for event in events:
            event.set()
        for callback in self._queue_callbacks:
            callback(None)
        for parked in self._parked_hooks:
            parked(None)
        for changed in self._queue_row_hooks:
            changed(None)


def _shutdown_socket(conn: psycopg.Connection[dict[str, object]]) -> None:
    """Unblock a read stuck on a stalled connection: shut the socket down under it."""
    with contextlib.suppress(Exception):
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
    log.warning("listener_stalled")


class Listener(ThreadService):
    """Background service: LISTEN on its channels, dispatch payloads, reconnect with backoff.

    More channels can be added while it runs (`subscribe`): the LISTEN is issued by the
    listener thread between two waits, and the returned event is set once it is in effect, so
    a waiter that checks the database after that point cannot miss a notification.
    """

    def __init__(self, conninfo: str, channel: str, waiters: Waiters,
                 health_check_sec: float = 2.0, health_timeout_sec: float = 3.0,
                 poll_sec: float = 0.2) -> None:
        self.conninfo, self.channel, self.waiters = conninfo, channel, waiters
        self.health_check_sec, self.health_timeout_sec = health_check_sec, health_timeout_sec
        self.poll_sec = poll_sec
        super().__init__()
        self._ready = threading.Event()
        self._conn: psycopg.Connection[dict[str, object]] | None = None
        self.reconnects = 0
        self._queries = load_queries()
        self._lock = threading.Lock()
        self._wanted: dict[str, threading.Event] = {channel: threading.Event()}

    def subscribe(self, channel: str) -> threading.Event:
        """Also LISTEN on channel; the event is set once the LISTEN is in effect."""
        with self._lock:
            event = self._wanted.get(channel)
            if event is None:
                event = self._wanted[channel] = threading.Event()
            return event

    def start(self, wait_ready: float = 10.0) -> None:
        super().start()
        self._ready.wait(wait_ready)

    def _wake(self) -> None:
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=1.0)

    def _connect(self) -> psycopg.Connection[dict[str, object]]:
        conn = connect_direct(self.conninfo)  # keepalives and tcp_user_timeout: db/netopts.py
        with self._lock:
            for event in self._wanted.values():
                event.clear()
        self._listen_wanted(conn)
        return conn

    def _listen_wanted(self, conn: psycopg.Connection[dict[str, object]]) -> None:
        with self._lock:
            pending = [(ch, ev) for ch, ev in self._wanted.items() if not ev.is_set()]
        for channel, event in pending:
            conn.execute(compose(self._queries["session_listen"], channel=channel))
            event.set()

    name = "dbos-listener"

    def _run(self) -> None:
        backoff = Backoff(first=0.05, cap=2.0, total=float("inf"))
        first = True
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
                backoff = Backoff(first=0.05, cap=2.0, total=float("inf"))
                if not first:
                    self.reconnects += 1
                    metrics.db_reconnect("listener")
                    log.info("listener_reconnected", channel=self.channel)
                    self.waiters.wake_all()
                first = False
                self._ready.set()
                self._loop(self._conn)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning("listener_error", error=mask_url(str(exc))[:200])
                self._ready.set()
                backoff.wait()
            finally:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        self._conn.close()
                    self._conn = None

    def _loop(self, conn: psycopg.Connection[dict[str, object]]) -> None:
        last_check = time.monotonic()
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=self.poll_sec):
                self.waiters.dispatch(notify.payload)
            self._listen_wanted(conn)
            if time.monotonic() - last_check >= self.health_check_sec:
                self._health_check(conn)
                last_check = time.monotonic()

    def _health_check(self, conn: psycopg.Connection[dict[str, object]]) -> None:
        """A round trip on the session, not just the socket: a stalled connection (server or
        network frozen, socket still open) is cut after health_timeout_sec and reconnected."""
        watchdog = threading.Timer(self.health_timeout_sec, _shutdown_socket, (conn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.execute(self._queries["session_health_check"].encode())
        finally:
            watchdog.cancel()
