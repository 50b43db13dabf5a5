"""Sync between laptops and the hub: change tracking, push batches, pulls, devices, USB bundles."""
