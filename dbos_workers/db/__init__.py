"""The system database: named queries, the repository seam, migrations and the listener."""
