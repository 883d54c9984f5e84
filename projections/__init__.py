"""Read models built from the event log, on SQLite and PostgreSQL, with exactly-once tracking."""
