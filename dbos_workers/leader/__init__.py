"""Leader election (advisory lock), cron and maintenance: one acting leader across hosts."""
