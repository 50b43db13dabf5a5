"""The append-only audit journal (issue 8): who did what, when, never with personal data."""
