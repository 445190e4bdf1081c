"""`dbos-workers start` as an operable service: the main process's signal contract
(signals.py, runner.py), startup checks (startup.py), systemd notify (notify.py), the health
monitor and its HTTP probes (health.py, probes.py)."""
