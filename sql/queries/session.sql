-- Session-level statements of the dedicated (unpooled) connections.

-- name: session_listen
LISTEN {channel};

-- name: session_health_check
SELECT 1 AS ok;

-- name: session_generic_plans
-- Hot statements are prepared; plan them once (their best plan does not depend on the
-- parameter values), not on every execution (planning cost as much as running them).
SET plan_cache_mode = force_generic_plan;
