"""Small apps and helpers for the acceptance tests.

Apps that run in subprocesses take the database URL, schema and executor id from ``ACC_*``
environment variables and append what they execute to a side log (``sidelog``), so a test can
count step executions across kills and restarts. ``harness`` is the test side: starting
processes, reading their JSON logs, checking pids.
"""
