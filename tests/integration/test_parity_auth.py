"""Role-based security and identity (issue #15, item 3): @DBOS.required_roles,
@DBOS.default_required_roles, DBOSContextSetAuth, DBOSContextEnsure, DBOS.set_authentication,
DBOS.authenticated_user / authenticated_roles / assumed_role, recorded with the workflow and
restored when it is dequeued or recovered (as DBOS 3.4: test_auth.py, test_classdecorators.py)."""

from __future__ import annotations

from typing import Any

import pytest

from dbos_workers import (
    DBOS,
    DBOSConfiguredInstance,
    DBOSContextEnsure,
    DBOSContextSetAuth,
    DBOSNotAuthorizedError,
    Queue,
    SetWorkflowID,
    WorkflowStatusString,
)
from tests.helpers import query

pytestmark = pytest.mark.integration


def _identity(pg_url: str, schema: str, workflow_id: str) -> tuple[Any, ...]:
    row = query(pg_url, schema, "SELECT status, authenticated_user, authenticated_roles, assumed_role "
                "FROM workflow_status WHERE workflow_uuid = %s", workflow_id)[0]
    return row["status"], row["authenticated_user"], row["authenticated_roles"], row["assumed_role"]


def test_required_roles_on_direct_calls(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.required_roles(["user"])
    @DBOS.workflow(name="tfunc")
    def tfunc(var: str) -> tuple[Any, ...]:
        return var, DBOS.authenticated_user, DBOS.authenticated_roles, DBOS.assumed_role

    launch()
    with pytest.raises(DBOSNotAuthorizedError) as no_auth:
        tfunc("bare")
    assert str(no_auth.value) == ("DBOS Error 8: Function tfunc requires a role, but was called in a "
                                  "context without authentication information")
    with DBOSContextEnsure() as ctx:
        with pytest.raises(DBOSNotAuthorizedError):
            tfunc("bare")
        ctx.authenticated_roles = ["a", "b"]
        with pytest.raises(DBOSNotAuthorizedError) as wrong:
            tfunc("bare")
        assert str(wrong.value) == ("DBOS Error 8: Function tfunc has required roles, but user is not "
                                    "authenticated for any of them")
        DBOS.set_authentication("ann", ["a", "user"])
        with SetWorkflowID("ok"):
            assert tfunc("x") == ("x", "ann", ["a", "user"], "user")
    assert query(pg_url, schema, "SELECT workflow_uuid FROM workflow_status") == [{"workflow_uuid": "ok"}]
    assert _identity(pg_url, schema, "ok") == ("SUCCESS", "ann", '["a", "user"]', "user")
    status = DBOS.get_workflow_status("ok")
    assert status is not None and (status.authenticated_user, status.authenticated_roles, status.assumed_role) == (
        "ann", ["a", "user"], "user")
    assert DBOS.authenticated_user is None and DBOS.assumed_role is None  # outside any context


def test_class_default_roles_and_method_overrides(launch: Any) -> None:
    @DBOS.default_required_roles(["user"])
    class Admin(DBOSConfiguredInstance):
        def __init__(self) -> None:
            super().__init__("admin")

        @DBOS.workflow()
        def as_user(self) -> str | None:
            return DBOS.assumed_role

        @DBOS.workflow()
        @DBOS.required_roles(["admin"])
        def as_admin(self) -> str | None:
            return DBOS.assumed_role

        @staticmethod
        @DBOS.required_roles(["admin"])
        @DBOS.workflow()
        def static_admin() -> str | None:
            return DBOS.assumed_role

        @DBOS.step()
        def step_as_user(self) -> str | None:
            return DBOS.assumed_role

        @DBOS.workflow()
        @DBOS.required_roles(["admin"])
        def calls_step(self) -> str | None:
            return self.step_as_user()

    launch()
    inst = Admin()
    for call in (inst.as_user, inst.as_admin, Admin.static_admin):
        with pytest.raises(DBOSNotAuthorizedError):
            call()
    with DBOSContextSetAuth("root", ["user", "admin"]):
        assert (inst.as_user(), inst.as_admin(), Admin.static_admin()) == ("user", "admin", "admin")
        assert inst.calls_step() == "user"  # the step assumes the class default for itself
    with DBOSContextSetAuth("joe", ["user"]):
        assert inst.as_user() == "user"
        with pytest.raises(DBOSNotAuthorizedError):
            inst.as_admin()


def test_identity_is_recorded_and_restored_on_every_path(launch: Any, pg_url: str, schema: str) -> None:
    """start_workflow and a queued run on a worker check the roles where they run (a denial is
    the workflow's recorded ERROR, as DBOS); the identity travels with the row."""
    q = Queue("auth")

    @DBOS.required_roles(["admin"])
    @DBOS.workflow()
    def guarded() -> tuple[Any, ...]:
        return DBOS.authenticated_user, DBOS.authenticated_roles, DBOS.assumed_role, DBOS.executor_id

    @DBOS.workflow()
    def parent() -> tuple[Any, ...]:
        return guarded()  # a child starts with its parent's identity

    launch(worker_processes=1)
    worker = f"{DBOS.executor_id}/0"
    with DBOSContextSetAuth("admin", ["user", "admin"]):
        started = DBOS.start_workflow(guarded)
        queued = q.enqueue(guarded)
        with SetWorkflowID("par"):
            child = parent()
    assert started.get_result(timeout=10) == ("admin", ["user", "admin"], "admin", DBOS.executor_id)
    assert queued.get_result(timeout=20) == ("admin", ["user", "admin"], "admin", worker)
    assert child == ("admin", ["user", "admin"], "admin", DBOS.executor_id)
    # Recorded as DBOS records it: the starter's identity (no role assumed yet for a start).
    assert _identity(pg_url, schema, queued.workflow_id) == ("SUCCESS", "admin", '["user", "admin"]', None)
    assert _identity(pg_url, schema, "par-1")[1:3] == ("admin", '["user", "admin"]')

    with DBOSContextSetAuth("bob", ["reader"]):
        denied_start = DBOS.start_workflow(guarded)
        denied_queue = q.enqueue(guarded)
    no_auth_queue = q.enqueue(guarded)
    for handle in (denied_start, denied_queue, no_auth_queue):
        with pytest.raises(DBOSNotAuthorizedError):
            handle.get_result(timeout=20)
        status = handle.get_status()
        assert status.status == WorkflowStatusString.ERROR.value
    assert _identity(pg_url, schema, denied_queue.workflow_id)[:3] == ("ERROR", "bob", '["reader"]')


def test_recovery_restores_the_identity(launch: Any, pg_url: str, schema: str) -> None:
    @DBOS.required_roles(["admin"])
    @DBOS.workflow()
    def guarded() -> tuple[Any, ...]:
        return DBOS.authenticated_user, DBOS.assumed_role

    launch()
    with DBOSContextSetAuth("admin", ["admin"]), SetWorkflowID("rec"):
        assert guarded() == ("admin", "admin")
    DBOS.destroy()
    query(pg_url, schema, "UPDATE workflow_status SET status='PENDING', output=NULL, owner_instance=NULL "
          "WHERE workflow_uuid='rec'")
    launch()
    assert DBOS.retrieve_workflow("rec").get_result(timeout=10) == ("admin", "admin")


def test_set_auth_blocks_are_not_reusable_and_set_authentication_needs_a_context(launch: Any) -> None:
    launch()
    block = DBOSContextSetAuth("u", ["r"])
    with block, pytest.raises(Exception, match="already in use"), block:
        pass
    with pytest.raises(Exception, match="DBOS context"):
        DBOS.set_authentication("u", ["r"])
    with DBOSContextSetAuth("outer", ["o"]):
        with DBOSContextSetAuth("inner", ["i"]):
            assert (DBOS.authenticated_user, DBOS.authenticated_roles) == ("inner", ["i"])
        assert (DBOS.authenticated_user, DBOS.authenticated_roles) == ("outer", ["o"])
