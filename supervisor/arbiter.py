"""The supervisor loop (gunicorn's arbiter, without class-level state or tmp-file heartbeats).

State machine: ``RUNNING`` (respawn, kill stale workers, scale, rolling restart) moves to
``DRAINING`` on SIGTERM/SIGINT, on the app's drain request (SIGUSR1), on the app process's death
or on a worker's boot failure (SIGTERM to every worker, SIGKILL after drain timeout + grace), and
to ``STOPPING`` on SIGQUIT or a second SIGTERM/SIGINT (SIGQUIT to every worker, SIGKILL after
2 s). The app's drain request never escalates, and within one batch of queued signals it is
dispatched last, so a process-group SIGTERM plus the app's forward of it is one drain. The
supervisor exits once no worker is left. Signal handlers only queue; ``_dispatch`` maps each
signal to a method.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from .child import WorkerContext, WorkerMain, bootstrap_worker
from .constants import DRAIN_REQUEST, MANAGED_SIGNALS, MAX_SLOTS, WORKER_BOOT_ERROR
from .heartbeat import SharedState
from .processes import new_process
from .reload import RollingRestart
from .signals import SignalQueue
from .slots import Slot

IDLE_WAIT_SEC = 0.5
BUSY_WAIT_SEC = 0.1
HARD_STOP_GRACE_SEC = 2.0
REAP_AFTER_KILL_SEC = 5.0
"""After SIGKILLing everyone, give up waiting for unkillable (D-state) workers after this."""

logger = structlog.get_logger("dbos_workers.supervisor")


class Mode(enum.Enum):
    RUNNING = "running"
    DRAINING = "draining"
    STOPPING = "stopping"


@dataclass(frozen=True)
class SupervisorConfig:
    """Settings given to ``spawn_supervisor``."""

    workers: int
    heartbeat_timeout_sec: float
    drain_grace_sec: float
    name: str
    own_process_group: bool = False
    """Leave the parent's process group (before any worker is forked)."""


class Arbiter:
    """Runs in the supervisor process; ``run`` returns the supervisor's exit code."""

    def __init__(
        self,
        worker_main: WorkerMain,
        config: SupervisorConfig,
        shared: SharedState,
        *,
        parent_pid: int,
    ) -> None:
        self.worker_main = worker_main
        self.config = config
        self.shared = shared
        self.parent_pid = parent_pid
        self.pid = os.getpid()
        self.target = config.workers
        self.slots: dict[int, Slot] = {}
        self.mode = Mode.RUNNING
        self.deadline = 0.0
        self.killed_all_at: float | None = None
        self.exit_code = 0
        self.reload: RollingRestart | None = None
        self.signals = SignalQueue()
        self.log = logger.bind(supervisor_pid=self.pid, name=config.name)
        self._dispatch: dict[signal.Signals, Callable[[signal.Signals], None]] = {
            DRAIN_REQUEST: self._on_drain_request,
            signal.SIGTERM: self._on_drain_signal,
            signal.SIGINT: self._on_drain_signal,
            signal.SIGQUIT: self._on_quit,
            signal.SIGTTIN: self._on_scale_up,
            signal.SIGTTOU: self._on_scale_down,
            signal.SIGHUP: self._on_reload,
        }

    # -- main loop -------------------------------------------------------------------------

    def run(self) -> int:
        """Install the signal handlers and loop until every worker is gone."""
        try:
            self.signals.install(MANAGED_SIGNALS)
            if self.config.own_process_group:
                os.setpgid(0, 0)
            self.log.info("supervisor_started", workers=self.target)
            while not self._tick():
                pass
        except BaseException:
            self.log.exception("supervisor_crashed")
            self._signal_all(signal.SIGKILL)
            return 1
        self.log.info("supervisor_stopped", exit_code=self.exit_code)
        return self.exit_code

    def _tick(self) -> bool:
        """One loop iteration; True when the supervisor should exit."""
        self.signals.wait(self._wait_timeout())
        self.shared.beat_supervisor(time.monotonic())
        # Stable sort: the app's drain request after any SIGTERM/SIGINT of the same batch (the
        # kernel delivers pending signals lowest number first, SIGUSR1 before SIGTERM).
        for sig in sorted(self.signals.pop_all(), key=lambda queued: queued == DRAIN_REQUEST):
            self._dispatch[sig](sig)
        self._check_parent()
        self._reap()
        if self.mode is Mode.RUNNING:
            self._kill_stale()
            self._enforce_stop_deadlines()
            self._step_reload()
            self._spawn_missing()
            return False
        return self._shutdown_step()

    def _wait_timeout(self) -> float:
        now = time.monotonic()
        if self.mode is not Mode.RUNNING:
            if self.killed_all_at is not None:
                return BUSY_WAIT_SEC
            return max(0.01, min(BUSY_WAIT_SEC, self.deadline - now))
        timeout = BUSY_WAIT_SEC if self.reload is not None else IDLE_WAIT_SEC
        for slot in self._wanted_slots():
            if not slot.alive:
                timeout = min(timeout, slot.respawn_at - now)
        return max(0.0, timeout)

    def _wanted_slots(self) -> list[Slot]:
        return [self.slots.setdefault(index, Slot(index)) for index in range(self.target)]

    def _live_slots(self) -> list[Slot]:
        return [slot for slot in self.slots.values() if slot.alive]

    def _check_parent(self) -> None:
        if self.mode is Mode.RUNNING and os.getppid() != self.parent_pid:
            self.log.warning("supervisor_parent_died", parent_pid=self.parent_pid)
            self._begin_drain(0.0, reason="parent_died")

    # -- workers ---------------------------------------------------------------------------

    def _reap(self) -> None:
        for slot in self._live_slots():
            assert slot.proc is not None
            code = slot.proc.exitcode
            if code is not None:
                self._on_worker_exit(slot, code)

    def _on_worker_exit(self, slot: Slot, code: int) -> None:
        pid = slot.pid
        assert slot.proc is not None
        slot.proc.close()
        self.shared.clear_pid(slot.index, pid)
        delay = slot.exited(time.monotonic())
        fields: dict[str, object] = (
            {"exit_code": code} if code >= 0 else {"signal": signal.Signals(-code).name}
        )
        if self.mode is Mode.RUNNING and slot.index < self.target:
            fields["respawn_delay_sec"] = round(delay, 3)
        self.log.info(
            "worker_exited", pid=pid, slot=slot.index, generation=slot.generation, **fields
        )
        if code == WORKER_BOOT_ERROR and self.mode is Mode.RUNNING:
            self.log.error(
                "worker_boot_failed", pid=pid, slot=slot.index, generation=slot.generation
            )
            self.exit_code = WORKER_BOOT_ERROR
            self._begin_drain(0.0, reason="worker_boot_failed")

    def _spawn_missing(self) -> None:
        now = time.monotonic()
        for slot in self._wanted_slots():
            if not slot.alive and now >= slot.respawn_at:
                self._spawn(slot)

    def _spawn(self, slot: Slot) -> None:
        generation = slot.generation + 1
        self.shared.reset_beat(slot.index)
        ctx = WorkerContext(
            slot=slot.index, generation=generation, supervisor_pid=self.pid, shared=self.shared
        )
        proc = new_process(
            bootstrap_worker,
            (self.worker_main, ctx, self.signals, self.shared),
            name=f"{self.config.name}-worker-{slot.index}",
            daemon=True,
        )
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, MANAGED_SIGNALS)
        try:
            proc.start()
        except OSError as exc:
            slot.spawn_failed(time.monotonic())
            self.log.error("worker_spawn_failed", slot=slot.index, error=str(exc))
            return
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        slot.generation = generation
        slot.started(proc, time.monotonic())
        self.shared.set_pid(slot.index, slot.pid)
        event = "worker_spawned" if generation == 0 else "worker_respawned"
        self.log.info(event, pid=slot.pid, slot=slot.index, generation=generation)

    def _kill_stale(self) -> None:
        now = time.monotonic()
        timeout = self.config.heartbeat_timeout_sec
        for slot in self._live_slots():
            last = max(self.shared.last_beat(slot.index), slot.spawned_at)
            if not slot.killed and now - last > timeout:
                self.log.warning(
                    "worker_killed_stale",
                    pid=slot.pid,
                    slot=slot.index,
                    generation=slot.generation,
                    silent_sec=round(now - last, 3),
                )
                self._kill(slot)

    def _enforce_stop_deadlines(self) -> None:
        now = time.monotonic()
        for slot in self._live_slots():
            if slot.kill_at is not None and not slot.killed and now >= slot.kill_at:
                self.log.warning(
                    "worker_killed_timeout",
                    pid=slot.pid,
                    slot=slot.index,
                    generation=slot.generation,
                )
                self._kill(slot)

    def _kill(self, slot: Slot) -> None:
        slot.killed = True
        self._signal(slot, signal.SIGKILL)

    def _request_stop(self, slot: Slot, reason: str) -> None:
        """SIGTERM one worker; it is SIGKILLed after drain timeout + grace, and not backed off."""
        if not slot.alive or slot.stop_requested:
            return
        slot.stop_requested = True
        slot.kill_at = time.monotonic() + self._drain_window()
        self.log.info(
            "worker_stopping",
            pid=slot.pid,
            slot=slot.index,
            generation=slot.generation,
            reason=reason,
        )
        self._signal(slot, signal.SIGTERM)

    def _signal(self, slot: Slot, sig: signal.Signals) -> None:
        if slot.proc is None or slot.proc.exitcode is not None:
            return  # reaped already (or about to be): its pid may not be ours any more
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.pid, sig)

    def _signal_all(self, sig: signal.Signals) -> None:
        for slot in self._live_slots():
            self._signal(slot, sig)

    def _drain_window(self) -> float:
        return self.shared.get_drain_timeout() + self.config.drain_grace_sec

    # -- signals ---------------------------------------------------------------------------

    def _on_drain_signal(self, sig: signal.Signals) -> None:
        if self.mode is Mode.RUNNING:
            self._begin_drain(self.shared.get_drain_timeout(), reason=sig.name)
        elif self.mode is Mode.DRAINING:
            self._begin_hard_stop(reason=f"second {sig.name}")

    def _on_drain_request(self, _sig: signal.Signals) -> None:
        """The app's drain (``SupervisorHandle.drain``): idempotent, never a hard stop."""
        timeout = self.shared.get_drain_timeout()
        if self.mode is Mode.RUNNING:
            self._begin_drain(timeout, reason="drain_requested")
        elif self.mode is Mode.DRAINING:
            later = time.monotonic() + timeout + self.config.drain_grace_sec
            self.deadline = max(self.deadline, later)

    def _on_quit(self, sig: signal.Signals) -> None:
        if self.mode is not Mode.STOPPING:
            self._begin_hard_stop(reason=sig.name)

    def _on_scale_up(self, _sig: signal.Signals) -> None:
        if self.mode is not Mode.RUNNING or self.target >= MAX_SLOTS:
            return
        self.target += 1
        self.log.info("supervisor_scaled_up", workers=self.target)

    def _on_scale_down(self, _sig: signal.Signals) -> None:
        if self.mode is not Mode.RUNNING or self.target <= 0:
            return
        self.target -= 1
        self.log.info("supervisor_scaled_down", workers=self.target)
        slot = self.slots.get(self.target)
        if slot is not None:
            self._request_stop(slot, reason="scale_down")

    def _on_reload(self, _sig: signal.Signals) -> None:
        if self.mode is not Mode.RUNNING:
            return
        self.log.info(
            "supervisor_reloading", workers=self.target, restarted=self.reload is not None
        )
        if self.reload is None:
            self.reload = RollingRestart.of(range(self.target))
        else:
            self.reload.restart(range(self.target))

    def _step_reload(self) -> None:
        if self.reload is None:
            return
        done = self.reload.step(
            self.slots,
            target=self.target,
            shared=self.shared,
            now=time.monotonic(),
            heartbeat_timeout_sec=self.config.heartbeat_timeout_sec,
            stop=lambda slot: self._request_stop(slot, reason="reload"),
        )
        if done:
            self.reload = None
            self.log.info("supervisor_reloaded", workers=self.target)

    # -- shutdown --------------------------------------------------------------------------

    def _begin_drain(self, timeout_sec: float, reason: str) -> None:
        self.mode = Mode.DRAINING
        self.reload = None
        self.deadline = time.monotonic() + timeout_sec + self.config.drain_grace_sec
        self.log.info(
            "supervisor_draining",
            reason=reason,
            timeout_sec=timeout_sec,
            grace_sec=self.config.drain_grace_sec,
            workers=len(self._live_slots()),
        )
        self._signal_all(signal.SIGTERM)

    def _begin_hard_stop(self, reason: str) -> None:
        self.mode = Mode.STOPPING
        self.reload = None
        self.deadline = time.monotonic() + HARD_STOP_GRACE_SEC
        self.log.info("supervisor_stopping", reason=reason, workers=len(self._live_slots()))
        self._signal_all(signal.SIGQUIT)

    def _shutdown_step(self) -> bool:
        """Escalate to SIGKILL at the deadline; True once no worker is left."""
        live = self._live_slots()
        if not live:
            self.log.info("supervisor_drained")
            return True
        now = time.monotonic()
        if self.killed_all_at is None and now >= self.deadline:
            self.log.warning("supervisor_killing_workers", pids=[slot.pid for slot in live])
            self.killed_all_at = now
            for slot in live:
                self._kill(slot)
        elif self.killed_all_at is not None and now - self.killed_all_at > REAP_AFTER_KILL_SEC:
            self.log.error("supervisor_abandoned_workers", pids=[slot.pid for slot in live])
            return True
        return False
