"""Refurbished machines: inventory, reservations, handovers to families, returns."""
