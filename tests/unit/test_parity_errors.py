"""DBOS's error classes, codes and words (dbos/_error.py, 3.4), and that stored errors come
back as the same class with the same text (issue #15, item 3)."""

from __future__ import annotations

import pytest

from dbos_workers import DBOSWorkersError, PickleSerializer, error


def test_one_root_and_dbos_hierarchy() -> None:
    assert error.DBOSWorkersError is error.DBOSException is DBOSWorkersError
    for name in ("DBOSConflictingWorkflowError", "DBOSRecoveryError", "DBOSInitializationError",
                 "DBOSWorkflowFunctionNotFoundError", "DBOSNonExistentWorkflowError",
                 "DBOSStreamTimeoutError", "MaxRecoveryAttemptsExceededError", "DBOSNotAuthorizedError",
                 "DBOSMaxStepRetriesExceeded", "DBOSStepTimeoutError", "DBOSUnexpectedStepError",
                 "DBOSStepNondeterminismError", "DBOSQueueDeduplicatedError", "DBOSWorkflowIDInUseError",
                 "DBOSAwaitedWorkflowCancelledError", "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
                 "DBOSQueryTimeoutError", "DBOSPatchNondeterminismError", "DBOSConfigError"):
        assert issubclass(getattr(error, name), error.DBOSException), name
    for name in ("DBOSWorkflowCancelledError", "DBOSWorkflowConflictIDError"):
        cls = getattr(error, name)
        assert issubclass(cls, error.DBOSBaseException) and not issubclass(cls, Exception), name
    assert error.WorkflowOwnershipLostError is error.DBOSWorkflowConflictIDError


@pytest.mark.parametrize(("exc", "text"), [
    (error.DBOSConflictingWorkflowError("w", "m"),
     "DBOS Error 9: Conflicting workflow invocation with the same ID (w): m"),
    (error.DBOSWorkflowFunctionNotFoundError("w", "gone"), "DBOS Error 4: Could not execute workflow w: gone"),
    (error.DBOSNonExistentWorkflowError("target", "w"), "DBOS Error 5: Non-existent target workflow ID: w"),
    (error.DBOSNonExistentWorkflowError("w"), "DBOS Error 5: Non-existent target workflow ID: w"),
    (error.DBOSNotAuthorizedError("no"), "DBOS Error 8: no"),
    (error.DBOSMaxStepRetriesExceeded("s", 3, []), "DBOS Error 7: Step s has exceeded its maximum of 3 retries"),
    (error.DBOSStepTimeoutError("s", 1.5),
     "DBOS Error 18: Step s was cancelled after exceeding its timeout of 1.5 seconds"),
    (error.DBOSUnexpectedStepError("w", 2, "a", "b"),
     "DBOS Error 11: During execution of workflow w step 2, function b was recorded when a was expected. "
     "Check that your workflow is deterministic."),
    (error.DBOSQueueDeduplicatedError("w", "q", "d"),
     "DBOS Error 12: Workflow w was deduplicated due to an existing workflow in queue q with deduplication ID d."),
    (error.DBOSWorkflowIDInUseError("w", "SUCCESS", "f"),
     "DBOS Error 27: Workflow ID w is already in use by workflow f with status SUCCESS."),
    (error.DBOSAwaitedWorkflowCancelledError("w"), "DBOS Error 13: Awaited workflow w was cancelled"),
    (error.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded("w"),
     "DBOS Error 14: Awaited workflow w exceeded its maximum recovery attempts"),
    (error.DBOSWorkflowConflictIDError("w"), "DBOS Error 1: Workflow w is no longer owned by this execution"),
    (error.DBOSWorkflowCancelledError("w"), "DBOS Error 10: Workflow w was cancelled"),
    (error.DBOSException("plain"), "DBOS Error: plain"),
])
def test_words_codes_and_round_trip(exc: BaseException, text: str) -> None:
    assert str(exc) == text
    s = PickleSerializer()
    back = s.deserialize_error(s.serialize_error(exc))
    assert type(back) is type(exc) and str(back) == text
    assert getattr(back, "dbos_error_code", None) == getattr(exc, "dbos_error_code", None)


def test_attributes_users_read() -> None:
    e = error.DBOSMaxStepRetriesExceeded("s", 2, [ValueError("x")])
    assert (e.step_name, e.max_retries, e.message) == ("s", 2, "Step s has exceeded its maximum of 2 retries")
    assert error.DBOSNonExistentWorkflowError("w").workflow_id == "w"
    assert error.DBOSWorkflowIDInUseError("w", "PENDING", "f").workflow_status == "PENDING"
    assert error.DBOSErrorCode.NotAuthorized.value == error.DBOSNotAuthorizedError("x").dbos_error_code == 8
