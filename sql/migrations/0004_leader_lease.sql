-- Leader lease on top of the election lock: the leader renews renewed_at (epoch ms) on every
-- tick from the session that holds the lock, whose pg_backend_pid() is backend_pid. A follower
-- that finds renewed_at older than executor_lease_sec terminates that backend (a frozen leader
-- keeps its TCP session, so Postgres alone would never release the lock).
ALTER TABLE leader ADD COLUMN renewed_at BIGINT, ADD COLUMN backend_pid INTEGER;
