-- Session-level statements of the dedicated (unpooled) connections.

-- name: session_listen
LISTEN {channel};

-- name: session_health_check
SELECT 1 AS ok;

-- name: session_generic_plans
-- Hot statements are prepared; plan them once (their best plan does not depend on the
-- parameter values), not on every execution (planning cost as much as running them).
-- JIT is off: a generic plan's cost estimates grow with the table (a deep backlog), and past
-- jit_above_cost every execution of a 1 ms statement spent 25-50 ms compiling.
SET plan_cache_mode = force_generic_plan;

-- name: session_no_jit
SET jit = off;

-- name: session_index_scans
-- A session keeps each generic plan it made, and it makes them at first use: on a fresh
-- database the tables are empty then, where a sequential scan looks cheapest, and that plan
-- stayed while the table grew (a claim or an enqueue scanned the whole table per statement
-- until an ANALYZE replanned it: enqueue 1.4 -> 7.4 ms by 20,000 rows). Every hot statement
-- has an index path (tests/integration/test_plans.py); sequential scans are the last resort.
SET enable_seqscan = off;

-- name: session_idle_transaction_timeout
-- A client cut off (a silent partition) between the statements of a transaction leaves its
-- locks on the server until the server notices the dead connection (hours, with the kernel's
-- keepalive defaults): a per-queue claim lock or row locks others wait for. Every system
-- database transaction sends its statements back to back, so one idle this long is dead.
SET idle_in_transaction_session_timeout = '15s';

-- name: session_custom_plans_local
-- For one transaction: plan with the actual parameter values. Retention's cut-off decides
-- whether a BRIN bitmap (few rows past it) or a scan that stops at LIMIT (many) is right; a
-- generic plan could only guess and scanned the whole table to find nothing (252 ms at 1M).
SET LOCAL plan_cache_mode = force_custom_plan;
