"""Staff accounts, the structures they belong to, login and sessions."""
