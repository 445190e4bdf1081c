-- Session-level statements of the dedicated (unpooled) connections.

-- name: session_listen
LISTEN {channel};

-- name: session_health_check
SELECT 1 AS ok;
