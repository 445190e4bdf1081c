"""DBOSConfig (the DBOS keys plus ours) validated once into an immutable Settings."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

from .errors import DBOSConfigError
from .serialization import JSONSerializer, PickleSerializer, Serializer


class DBOSConfig(TypedDict, total=False):
    name: str
    system_database_url: str | None
    executor_id: str | None
    application_version: str | None
    dbos_system_schema: str | None
    sys_db_pool_size: int | None
    max_executor_threads: int | None
    log_level: str | None
    serializer: Serializer | str | None
    application_database_url: str | None  # 2.x: the database of @DBOS.transaction
    # ours
    worker_processes: int | None
    worker_threads: int | None
    worker_db_pool_size: int | None
    worker_async_concurrency: int | None  # async workflows per worker process (on its loop)
    worker_cpu_affinity: bool | str | None
    embedded_data_dir: str | None
    executor_lease_sec: float | None
    polling_interval_sec: float | None
    heartbeat_timeout_sec: float | None
    workflow_retention_sec: float | None
    drain_timeout_sec: float | None
    database_wait_sec: float | None  # `dbos-workers start`: retry an unreachable database
    probe_port: int | None  # `dbos-workers start`: HTTP /healthz and /readyz on this port
    probe_host: str | None
    enable_metrics: bool | None  # Prometheus metrics from every process (docs/observability.md)
    metrics_port: int | None  # a standalone /metrics server in the app process
    metrics_host: str | None
    enable_otlp: bool | None  # DBOS's key: OpenTelemetry spans (the `otel` extra)
    otlp_traces_endpoints: list[str] | None


_DBOS_KEYS_IGNORED = {
    "system_database_engine", "sys_db_polling_concurrency", "db_engine_kwargs",
    "sys_db_idle_transaction_timeout_sec", "use_listen_notify", "run_migrations",
    "notification_listener_polling_interval_sec", "notification_coalesce_sec",
    "observability_query_timeout_sec", "scheduler_polling_interval_sec",
    "kafka_queue_polling_interval_sec", "console_log_level", "otlp_log_level",
    "otlp_logs_endpoints", "otlp_attributes", "otel_attribute_format",
    "conductor_key", "conductor_url", "conductor_executor_metadata",
    "conductor_metadata_only_mode", "transact_enterprise_key", "auto_upgrade",
    "auto_upgrade_interval_sec", "auto_upgrade_grace_sec", "sharding", "enable_patching",
    "run_admin_server", "admin_port", "database_url",
}
_KNOWN = set(DBOSConfig.__annotations__)
_NAME_RE = re.compile(r"^[a-z0-9_-]{3,256}$")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class Observability:
    """Metrics and tracing switches (see dbos_workers/metrics and tracing.py)."""

    enable_metrics: bool = False
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    enable_otlp: bool = False
    otlp_traces_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    name: str
    database_url: str | None  # None: the embedded Postgres
    executor_id: str
    application_version: str
    schema: str
    pool_size: int
    max_executor_threads: int
    log_level: str
    serializer: Serializer
    worker_processes: int
    worker_threads: int
    worker_pool_size: int
    worker_cpu_affinity: bool | None  # None: "auto"
    embedded_data_dir: Path
    executor_lease_sec: float
    polling_interval_sec: float
    heartbeat_timeout_sec: float
    workflow_retention_sec: float | None
    drain_timeout_sec: float
    application_database_url: str | None = None  # None: the default (see datasource/resolve.py)
    database_wait_sec: float = 60.0
    probe_port: int | None = None
    probe_host: str = "127.0.0.1"
    observability: Observability = Observability()
    worker_async_concurrency: int = 10_000

    @property
    def channel(self) -> str:
        """The work channel (`q:` wake-ups); `_done` and `_cancel` are appended for the other
        two (all <= 63 bytes)."""
        name = f"dbos_workers_{self.schema}"
        if len(name) > 58:
            name = "dbos_workers_" + hashlib.md5(self.schema.encode()).hexdigest()[:16]
        return name

    @property
    def done_channel(self) -> str:
        return self.channel + "_done"

    @property
    def cancel_channel(self) -> str:
        return self.channel + "_cancel"

    @property
    def parked_channel(self) -> str:
        """`p:<workflow name>`: rows of that name were parked (see migration 8)."""
        return self.channel + "_parked"


def _default_executor_id() -> str:
    return os.environ.get("DBOS__VMID") or socket.gethostname() or "dbos-workers-host"


def _int(config: DBOSConfig, key: str, default: int, minimum: int) -> int:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise DBOSConfigError(f"config key {key!r} must be an integer, got {value!r}")
    if value < minimum:
        raise DBOSConfigError(f"config key {key!r} must be >= {minimum}, got {value}")
    return value


def _float(config: DBOSConfig, key: str, default: float, minimum: float) -> float:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DBOSConfigError(f"config key {key!r} must be a number, got {value!r}")
    if value < minimum:
        raise DBOSConfigError(f"config key {key!r} must be >= {minimum}, got {value}")
    return float(value)


def _str(config: DBOSConfig, key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise DBOSConfigError(f"config key {key!r} must be a string, got {value!r}")
    return value


def _affinity(config: DBOSConfig) -> bool | None:
    value = config.get("worker_cpu_affinity")
    if value is None or value == "auto":
        return None
    if not isinstance(value, bool):
        raise DBOSConfigError(f"config key 'worker_cpu_affinity' must be true, false or 'auto', got {value!r}")
    return value


def validate_database_url(url: str, key: str = "system_database_url") -> str:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DBOSConfigError(f"{key} is malformed: {exc}") from None
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise DBOSConfigError(
            f"{key} must be a Postgres URL like "
            "postgresql://user:password@host:5432/dbname (got scheme "
            f"{parts.scheme or '(none)'!r})"
        )
    if not parts.path.strip("/") :
        raise DBOSConfigError(f"{key} must name a database: postgresql://host/dbname")
    # psycopg wants the plain scheme; accept SQLAlchemy-style drivers.
    return "postgresql" + url[len(parts.scheme):]


def _serializer(value: object) -> Serializer:
    if value is None or value == "pickle":
        return PickleSerializer()
    if value == "json":
        return JSONSerializer()
    if isinstance(value, Serializer):
        return value
    raise DBOSConfigError(f"config key 'serializer' must be 'pickle', 'json' or a Serializer, got {value!r}")


def _warn_unknown(config: DBOSConfig) -> None:
    unknown = sorted(set(config) - _KNOWN)
    if not unknown:
        return
    ignored = [k for k in unknown if k in _DBOS_KEYS_IGNORED]
    typos = [k for k in unknown if k not in _DBOS_KEYS_IGNORED]
    parts = []
    if ignored:
        parts.append(f"DBOS keys not supported by dbos-workers (ignored): {', '.join(ignored)}")
    if typos:
        parts.append(f"unknown keys (ignored): {', '.join(typos)}")
    warnings.warn("; ".join(parts), UserWarning, stacklevel=4)


def build_settings(config: Any) -> Settings:
    if not isinstance(config, dict):
        raise DBOSConfigError(f"config must be a dict (DBOSConfig), got {type(config).__name__}")
    _warn_unknown(config)  # type: ignore[arg-type]
    cfg: DBOSConfig = config  # type: ignore[assignment]
    name = cfg.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DBOSConfigError(
            f"config key 'name' is required: 3-256 characters of [a-z0-9-_], got {name!r}"
        )
    url = _str(cfg, "system_database_url") or os.environ.get("DBOS_SYSTEM_DATABASE_URL") or None
    schema = _str(cfg, "dbos_system_schema") or "dbos_workers"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,47}$", schema):
        raise DBOSConfigError(f"config key 'dbos_system_schema' must be a plain identifier, got {schema!r}")
    level = (_str(cfg, "log_level") or "INFO").upper()
    if level not in _LOG_LEVELS:
        raise DBOSConfigError(f"config key 'log_level' must be one of {sorted(_LOG_LEVELS)}, got {level!r}")
    executor_id = _str(cfg, "executor_id") or _default_executor_id()
    if "/" in executor_id:
        raise DBOSConfigError(f"config key 'executor_id' must not contain '/', got {executor_id!r}")
    data_dir = _str(cfg, "embedded_data_dir") or ".dbos"
    return Settings(
        name=name,
        database_url=validate_database_url(url) if url else None,
        executor_id=executor_id,
        # "": computed at launch from the registered workflows' source (appversion.py)
        application_version=_str(cfg, "application_version") or os.environ.get("DBOS__APPVERSION") or "",
        schema=schema,
        pool_size=_int(cfg, "sys_db_pool_size", 20, 2),
        max_executor_threads=_int(cfg, "max_executor_threads", 64, 1),
        log_level=level,
        serializer=_serializer(cfg.get("serializer")),
        worker_processes=_int(cfg, "worker_processes", os.cpu_count() or 1, 0),
        worker_threads=_int(cfg, "worker_threads", 64, 1),
        worker_pool_size=_int(cfg, "worker_db_pool_size",
                              min(_int(cfg, "worker_threads", 64, 1), 16) + 4, 2),
        worker_cpu_affinity=_affinity(cfg),
        embedded_data_dir=Path(data_dir).expanduser().resolve(),
        executor_lease_sec=_float(cfg, "executor_lease_sec", 10.0, 1.0),
        polling_interval_sec=_float(cfg, "polling_interval_sec", 1.0, 0.01),
        heartbeat_timeout_sec=_float(cfg, "heartbeat_timeout_sec", 60.0, 1.0),
        workflow_retention_sec=(None if cfg.get("workflow_retention_sec") is None
                                else _float(cfg, "workflow_retention_sec", 0.0, 60.0)),
        drain_timeout_sec=_float(cfg, "drain_timeout_sec", 20.0, 0.0),
        application_database_url=_app_url(cfg),
        database_wait_sec=_float(cfg, "database_wait_sec", 60.0, 0.0),
        probe_port=None if cfg.get("probe_port") is None else _int(cfg, "probe_port", 0, 1),
        probe_host=_str(cfg, "probe_host") or "127.0.0.1",
        observability=_observability(cfg),
        worker_async_concurrency=_int(cfg, "worker_async_concurrency", 10_000, 1),
    )


def _flag(cfg: DBOSConfig, key: str) -> bool:
    value = cfg.get(key)
    if value is not None and not isinstance(value, bool):
        raise DBOSConfigError(f"config key {key!r} must be true or false, got {value!r}")
    return bool(value)


def _observability(cfg: DBOSConfig) -> Observability:
    port = cfg.get("metrics_port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise DBOSConfigError(f"config key 'metrics_port' must be a port number (0-65535), got {port!r}")
    endpoints = cfg.get("otlp_traces_endpoints") or []
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        raise DBOSConfigError(f"config key 'otlp_traces_endpoints' must be a list of URLs, got {endpoints!r}")
    return Observability(enable_metrics=_flag(cfg, "enable_metrics"), metrics_port=port,
                         metrics_host=_str(cfg, "metrics_host") or "127.0.0.1",
                         enable_otlp=_flag(cfg, "enable_otlp"), otlp_traces_endpoints=tuple(endpoints))


def _app_url(cfg: DBOSConfig) -> str | None:
    url = _str(cfg, "application_database_url")
    return validate_database_url(url, "application_database_url") if url else None
