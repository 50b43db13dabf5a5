"""Managers' reports: indicators, charts, collection status and exports (read only)."""
