"""Venues and ateliers: where and when workshops happen."""
