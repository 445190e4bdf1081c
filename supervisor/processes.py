"""The one place that touches ``multiprocess`` (untyped): a fork context and a typed process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import multiprocess


class ProcessLike(Protocol):
    """The part of ``multiprocess.Process`` the supervisor uses."""

    @property
    def pid(self) -> int | None: ...

    @property
    def exitcode(self) -> int | None: ...

    def start(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...

    def is_alive(self) -> bool: ...

    def close(self) -> None: ...


def fork_context() -> Any:
    """The ``multiprocess`` fork context (processes and shared memory are created from it)."""
    return multiprocess.get_context("fork")


def new_process(
    target: Callable[..., object], args: tuple[object, ...], *, name: str, daemon: bool
) -> ProcessLike:
    """An unstarted forked process running ``target(*args)``."""
    process = fork_context().Process(target=target, args=args, name=name, daemon=daemon)
    return cast(ProcessLike, process)


def allow_children() -> None:
    """Let this (daemonic) process start children of its own.

    The supervisor is a daemonic child of the app, so the app's ``multiprocess`` exit hook
    sends it SIGTERM (a drain) instead of waiting forever; ``multiprocess`` would otherwise
    refuse to let a daemonic process fork workers.
    """
    multiprocess.current_process().daemon = False
