"""Driver-side scenarios: each plans peer runs, collects their JSON and derives the figures.

Order matters: pg-limit and burn-down come first because later scenarios use their numbers
(steady state paces at fractions of the burn-down rate; every rate is also given as a fraction
of the pgbench commit rate)."""

from . import asyncio_burndown, burndown, enqueue, latency, pgcost, pglimit, queues, scaling, soak, steady, transaction

ORDER = ("pglimit", "burndown", "latency", "steady", "scaling", "transaction", "async", "pgcost",
         "enqueue", "queues", "soak")
DEFAULT = tuple(s for s in ORDER if s != "soak")  # the soak (10 minutes) runs when named
MODULES = {"pglimit": pglimit, "burndown": burndown, "latency": latency, "steady": steady,
           "scaling": scaling, "transaction": transaction, "async": asyncio_burndown,
           "pgcost": pgcost, "enqueue": enqueue, "queues": queues, "soak": soak}
ALIASES = {"pg-limit": "pglimit", "burn-down": "burndown", "idle-latency": "latency",
           "steady-state": "steady", "tx": "transaction", "asyncio": "async", "many-queues": "queues"}
