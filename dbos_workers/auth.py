"""Who code runs as, and role-based security (DBOS's _roles.py and the auth half of
_context.py).

An identity (authenticated user, the roles granted to them, the role assumed) is in effect in
a "DBOS context": a DBOSContextEnsure or DBOSContextSetAuth block, or a workflow or step.
A workflow starts with its caller's identity, records it on its row (authenticated_user,
authenticated_roles as JSON text, assumed_role, as DBOS) and gets it back when recovered or
dequeued. `@DBOS.required_roles([...])` (or a class's `@DBOS.default_required_roles`) lets a
call through only if the identity holds one of the roles, and assumes the first one it holds
for the call's duration; otherwise DBOSNotAuthorizedError.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeVar

from .classes import FuncMeta, ensure_meta, meta_of
from .errors import DBOSException, DBOSNotAuthorizedError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Identity:
    """The identity of one DBOS context (what DBOSContextEnsure returns)."""

    authenticated_user: str | None = None
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None

    def roles_json(self) -> str | None:
        return json.dumps(self.authenticated_roles) if self.authenticated_roles else None


_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("dbos_identity", default=None)


def current() -> Identity | None:
    return _identity.get()


def enter(identity: Identity | None) -> contextvars.Token[Identity | None]:
    return _identity.set(identity)


def leave(token: contextvars.Token[Identity | None]) -> None:
    _identity.reset(token)


def from_row(user: str | None, roles_json: str | None, assumed_role: str | None = None) -> Identity:
    roles = json.loads(roles_json) if roles_json else None
    return Identity(user, list(roles) if roles is not None else None, assumed_role)


class DBOSContextEnsure:
    """Make sure a DBOS context exists in the block (one is created if none is current)."""

    def __init__(self) -> None:
        self._token: contextvars.Token[Identity | None] | None = None

    def __enter__(self) -> Identity:
        existing = _identity.get()
        if existing is not None:
            return existing
        created = Identity()
        self._token = _identity.set(created)
        return created

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        token, self._token = self._token, None
        if token is not None:
            _identity.reset(token)


class DBOSContextSetAuth(DBOSContextEnsure):
    """Run the block as this user with these roles (workflows started in it record them)."""

    def __init__(self, user: str | None, roles: list[str] | None) -> None:
        super().__init__()
        self.user, self.roles = user, roles
        self._active = False

    def __enter__(self) -> Identity:
        if self._active:
            raise DBOSException("This DBOSContextSetAuth is already in use; create a new one for "
                                "each with block.")
        self._active = True
        outer = _identity.get()
        scope = Identity(self.user, self.roles, outer.assumed_role if outer is not None else None)
        self._token = _identity.set(scope)
        return scope

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._active = False
        super().__exit__(exc_type, exc, tb)


def set_authentication(user: str | None, roles: list[str] | None) -> None:
    """DBOS.set_authentication: change the identity of the current DBOS context."""
    identity = _identity.get()
    if identity is None:
        raise DBOSException("DBOS.set_authentication must be called in a DBOS context (a workflow, "
                            "a step, or a DBOSContextEnsure / DBOSContextSetAuth block)")
    identity.authenticated_user, identity.authenticated_roles = user, roles


def required_roles_of(meta: FuncMeta | None) -> list[str] | None:
    if meta is None:
        return None
    if meta.required_roles is not None:
        return meta.required_roles
    return meta.class_info.default_required_roles if meta.class_info is not None else None


def check_roles(meta: FuncMeta | None, name: str) -> str | None:
    """The role the current identity assumes for a call of this function (None when the
    function requires none); DBOSNotAuthorizedError, in DBOS's words, otherwise."""
    required = required_roles_of(meta)
    if not required:
        return None
    identity = _identity.get()
    roles = identity.authenticated_roles if identity is not None else None
    if roles is None:
        raise DBOSNotAuthorizedError(f"Function {name} requires a role, but was called in a context "
                                     "without authentication information")
    for role in required:
        if role in roles:
            return role
    raise DBOSNotAuthorizedError(f"Function {name} has required roles, but user is not "
                                 "authenticated for any of them")


@contextmanager
def assuming(role: str | None) -> Iterator[None]:
    """Assume `role` for the block (nothing changes when role is None)."""
    if role is None:
        yield
        return
    identity = _identity.get() or Identity()
    token = _identity.set(replace(identity, assumed_role=role))
    try:
        yield
    finally:
        _identity.reset(token)


def func_name(func: Callable[..., Any], meta: FuncMeta | None) -> str:
    name = meta.name if meta is not None else None
    return name or str(getattr(func, "__qualname__", repr(func)))


def required_roles(roles: list[str]) -> Callable[[F], F]:
    """@DBOS.required_roles: a call needs one of these roles (over the class's default)."""

    def decorator(func: F) -> F:
        meta = ensure_meta(func)
        meta.required_roles = list(roles)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with assuming(check_roles(meta, func_name(func, meta))):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


__all__ = ["DBOSContextEnsure", "DBOSContextSetAuth", "Identity", "meta_of"]
