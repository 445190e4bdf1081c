"""Pluggable value serialization: pickle+base64 by default, JSON available.

Every stored value (inputs, outputs, step results, messages, events) goes through one
Serializer; the row's ``serialization`` column records which one wrote it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import pickle
from typing import Any

from .errors import DBOSSerializationError, WorkflowOutputError


class Serializer:
    """Turns values into text and back. Subclass and pass as config['serializer']."""

    def name(self) -> str:
        raise NotImplementedError

    def serialize(self, value: Any) -> str:
        raise NotImplementedError

    def deserialize(self, text: str) -> Any:
        raise NotImplementedError

    def serialize_error(self, error: BaseException) -> str:
        """Serialize an exception; one that cannot be stored as is becomes WorkflowOutputError."""
        try:
            text = self.serialize(error)
            self.deserialize(text)
            return text
        except Exception:
            return self.serialize(WorkflowOutputError(type(error).__qualname__, str(error)))

    def deserialize_error(self, text: str) -> BaseException:
        value = self.deserialize(text)
        if isinstance(value, BaseException):
            return value
        return WorkflowOutputError("Error", str(value))


class PickleSerializer(Serializer):
    """pickle + base64 (DBOS's default). Anyone who can write the system database can run
    code in the processes that read it: use JSONSerializer when that matters."""

    def name(self) -> str:
        return "py_pickle"

    def serialize(self, value: Any) -> str:
        try:
            return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode()
        except Exception as exc:
            raise DBOSSerializationError(
                f"cannot serialize {type(value).__name__} value with pickle: {exc}; "
                "pass plain data (module-level classes, no locks/sockets/lambdas)"
            ) from None

    def deserialize(self, text: str) -> Any:
        try:
            return pickle.loads(base64.b64decode(text))
        except Exception as exc:
            raise DBOSSerializationError(f"cannot deserialize stored value: {exc}") from None


class JSONSerializer(Serializer):
    """Portable JSON: datetimes as ISO strings, tuples and sets as lists, errors as dicts."""

    def name(self) -> str:
        return "portable_json"

    def serialize(self, value: Any) -> str:
        try:
            return json.dumps(value, default=_json_default, separators=(",", ":"))
        except Exception as exc:
            raise DBOSSerializationError(
                f"cannot serialize {type(value).__name__} value as JSON: {exc}"
            ) from None

    def deserialize(self, text: str) -> Any:
        try:
            return json.loads(text)
        except Exception as exc:
            raise DBOSSerializationError(f"cannot deserialize stored JSON: {exc}") from None

    def serialize_error(self, error: BaseException) -> str:
        return self.serialize({"__error__": type(error).__qualname__, "message": str(error)})

    def deserialize_error(self, text: str) -> BaseException:
        value = self.deserialize(text)
        if isinstance(value, dict) and "__error__" in value:
            return WorkflowOutputError(str(value["__error__"]), str(value.get("message", "")))
        return WorkflowOutputError("Error", str(value))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, BaseException):
        return {"__error__": type(value).__qualname__, "message": str(value)}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
