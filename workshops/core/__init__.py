"""Shared foundations: base models, database settings, errors, forms, i18n, security, CLI."""
