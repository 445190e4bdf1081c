"""Worker processes: claim queued workflows and run them (forked by the supervisor)."""
