"""Test harness for pgmux's integration suites: a real PostgreSQL 15 started
in a temporary directory, pgmux (or, to check the tests themselves, PgBouncer
or nothing) in front of it, and helpers to drive real clients."""
