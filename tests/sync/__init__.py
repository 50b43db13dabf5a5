"""Sync between laptops and the hub: every test runs the hub on SQLite and on PostgreSQL."""
