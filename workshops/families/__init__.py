"""Households of collégiens, their registrations to ateliers, check-in and imports."""
