"""Data-subject rights: export, erasure, retention, the data inventory and the register of processing."""
