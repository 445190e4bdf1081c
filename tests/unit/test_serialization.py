"""Serializers: round trips, clear errors, unpicklable exceptions stored as WorkflowOutputError."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from dbos_workers import DBOSSerializationError, JSONSerializer, PickleSerializer
from dbos_workers.errors import DBOSNonExistentWorkflowError, WorkflowOutputError


def test_pickle_round_trip() -> None:
    s = PickleSerializer()
    value = {"a": (1, 2), "b": dt.datetime(2026, 1, 1)}
    assert s.deserialize(s.serialize(value)) == value


def test_unserializable_value_raises_typed_error() -> None:
    with pytest.raises(DBOSSerializationError, match="cannot serialize"):
        PickleSerializer().serialize(threading.Lock())


def test_our_errors_round_trip_with_their_fields() -> None:
    s = PickleSerializer()
    err = s.deserialize_error(s.serialize_error(DBOSNonExistentWorkflowError("wf-9")))
    assert isinstance(err, DBOSNonExistentWorkflowError) and err.workflow_id == "wf-9"


def test_unpicklable_exception_is_stored_as_output_error() -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    s = PickleSerializer()
    err = s.deserialize_error(s.serialize_error(Local("bad thing")))
    assert isinstance(err, WorkflowOutputError) and "bad thing" in str(err)


def test_json_serializer() -> None:
    s = JSONSerializer()
    assert s.deserialize(s.serialize({"t": (1, 2)})) == {"t": [1, 2]}
    err = s.deserialize_error(s.serialize_error(ValueError("x")))
    assert isinstance(err, WorkflowOutputError) and err.type_name == "ValueError"
    with pytest.raises(DBOSSerializationError):
        s.serialize(object())
