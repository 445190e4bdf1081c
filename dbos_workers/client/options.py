"""EnqueueOptions (DBOS 3.4's TypedDict) and the row a client enqueue writes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .. import enqueue_options as _shared
from ..db.records import NewWorkflow
from ..errors import DBOSException
from ..registry import DEFAULT_MAX_RECOVERY_ATTEMPTS
from ..runtime import Runtime


class EnqueueOptions(_shared.EnqueueOptions, total=False):
    """DBOS 3.4's EnqueueOptions: DBOS.enqueue_workflow_with_options' keys plus the client's."""

    application_name: str
    serialization_type: str
    otel_context: Any
    shard_key: str


SUPPORTED = {"workflow_name", "queue_name", "workflow_id", "workflow_id_reuse_policy", "app_version",
             "workflow_timeout", "delay_seconds", "deduplication_id", "duplication_policy", "priority",
             "queue_partition_key", "authenticated_user", "authenticated_roles", "class_name",
             "instance_name", "attributes", "application_name"}
_UNSUPPORTED = {"serialization_type": "the client's serializer decides the format",
                "otel_context": "dbos-workers has no tracing", "shard_key": "dbos-workers has no sharding"}


def _text(options: EnqueueOptions, key: str) -> str:
    value = options.get(key)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise DBOSException(f"EnqueueOptions[{key!r}] must be a non-empty string, got {value!r}")
    return value


def validate(options: EnqueueOptions) -> None:
    """Required keys present, unknown keys refused, unsupported ones named (never ignored)."""
    for key in ("workflow_name", "queue_name"):
        _text(options, key)
    for key, value in options.items():
        if key in _UNSUPPORTED and value is not None:
            raise DBOSException(f"EnqueueOptions[{key!r}] is not supported: {_UNSUPPORTED[key]}")
        if key not in SUPPORTED and key not in _UNSUPPORTED:
            raise DBOSException(f"EnqueueOptions has no key {key!r}")
    if options.get("queue_partition_key") is not None and options.get("deduplication_id") is not None:
        raise DBOSException("Deduplication is not supported for partitioned queues")
    if options.get("duplication_policy") == "return-existing" and options.get("deduplication_id") is None:
        raise DBOSException("duplication_policy 'return-existing' requires a deduplication_id.")
    _shared.validate(options)  # priority range, ids, policies: DBOS's words


def new_row(rt: Runtime, options: EnqueueOptions, args: tuple[Any, ...], kwargs: dict[str, Any],
            application_name: str) -> NewWorkflow:
    timeout = options.get("workflow_timeout")
    delay = options.get("delay_seconds")
    delay_ms = int(delay * 1000) if delay else None
    roles = options.get("authenticated_roles")
    attributes = options.get("attributes")
    return NewWorkflow(
        workflow_id=options.get("workflow_id") or str(uuid.uuid4()),
        status="DELAYED" if delay_ms else "ENQUEUED", name=options["workflow_name"],
        class_name=options.get("class_name"), config_name=options.get("instance_name"),
        inputs=rt.serializer.serialize({"args": args, "kwargs": kwargs}),
        serialization=rt.serializer.name(), queue_name=options["queue_name"],
        priority=options.get("priority") or 0, deduplication_id=options.get("deduplication_id"),
        executor_id=None, owner_token=None, owner_instance=None,
        application_version=options.get("app_version"),
        application_name=options.get("application_name") or application_name,
        recovery_attempts=0, max_recovery_attempts=DEFAULT_MAX_RECOVERY_ATTEMPTS,
        timeout_ms=None if timeout is None else int(timeout * 1000), deadline_ms=None,
        delay_until_ms=rt.clock.now_ms() + delay_ms if delay_ms else None,
        parent_workflow_id=None, started_at_ms=None,
        authenticated_user=options.get("authenticated_user"),
        authenticated_roles=None if roles is None else json.dumps(roles),
        attributes=None if attributes is None else json.dumps(attributes),
        queue_partition_key=options.get("queue_partition_key"))
