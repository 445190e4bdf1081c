"""The metric families (prometheus_client, multiprocess mode). Built once per service run in
the app process, before the supervisor forks, so every worker inherits the same objects and
writes its own `<type>_<pid>.db` file in the run's directory (prometheus_client notices the
new pid after a fork and starts the child's values at zero).

Labels are bounded: queue names (rows of the `queues` table), workflow and step names (code),
outcomes (status words), group-commit kinds, error classes. Never a workflow id."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   300.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Instruments:
    """Every metric of dbos-workers. A registry of its own (never the global one): the
    collector that serves /metrics reads the multiprocess files, not these objects."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        wf = ("queue", "name")
        self.enqueued = Counter("dbw_workflows_enqueued", "Workflows enqueued", wf, registry=r)
        self.started = Counter("dbw_workflows_started", "Workflow executions started (claimed, "
                               "recovered, or run inline)", wf, registry=r)
        self.finished = Counter("dbw_workflows_finished", "Workflow outcomes made durable",
                                (*wf, "outcome"), registry=r)
        self.enqueue_latency = Histogram("dbw_enqueue_to_start_seconds", "From enqueue to claim",
                                         ("queue",), buckets=LATENCY_BUCKETS, registry=r)
        self.workflow_duration = Histogram("dbw_workflow_duration_seconds", "Workflow body run time",
                                           ("name",), buckets=LATENCY_BUCKETS, registry=r)
        self.step_duration = Histogram("dbw_step_duration_seconds", "Step run time (all attempts)",
                                       ("name",), buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("dbw_workflows_in_flight", "Workflows held by a process", registry=r,
                               multiprocess_mode="liveall")
        self.claims = Counter("dbw_claims", "Claim rounds that claimed at least one row", registry=r)
        self.claim_batch = Histogram("dbw_claim_batch_size", "Rows per claim round", buckets=BATCH_BUCKETS,
                                     registry=r)
        self.gc_batch = Histogram("dbw_group_commit_batch_size", "Writes per group-commit statement",
                                  ("kind",), buckets=BATCH_BUCKETS, registry=r)
        self.gc_flush = Histogram("dbw_group_commit_flush_seconds", "Group-commit statement latency",
                                  ("kind",), buckets=LATENCY_BUCKETS, registry=r)
        self._reliability(r)

    def _reliability(self, r: CollectorRegistry) -> None:
        self.recoveries = Counter("dbw_recoveries", "Workflows recovered from a dead holder",
                                  ("kind",), registry=r)
        self.hand_backs = Counter("dbw_hand_backs", "Workflows handed back to their queue (drain, "
                                  "orphans)", ("reason",), registry=r)
        self.retries = Counter("dbw_step_retries", "Step attempts that failed and were retried",
                               ("name",), registry=r)
        self.dead_lettered = Counter("dbw_max_recovery_exceeded", "Workflows past max_recovery_attempts",
                                     registry=r)
        self.is_leader = Gauge("dbw_is_leader", "1 in the process that leads (sum: leaders alive)",
                               registry=r, multiprocess_mode="livesum")
        self.leader_term = Gauge("dbw_leader_term", "Leader term last taken by a live process",
                                 registry=r, multiprocess_mode="livemax")
        self.db_errors = Counter("dbw_db_errors", "Database errors seen by the repository", ("error",),
                                 registry=r)
        self.db_reconnects = Counter("dbw_db_reconnects", "Reconnects (listener) and pool checks after "
                                     "a connection error", ("kind",), registry=r)
