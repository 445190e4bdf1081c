"""Async workflows and steps: an event loop per worker process (loop.py), async execution
with the sync paths' claim, checkpoint, group commit and drain (runner.py, steps.py), waits
woken by the same NOTIFY waiters (wake.py, waits.py) and the `_async` API (api.py)."""
