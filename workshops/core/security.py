"""Deny-by-default access, roles, and the security headers sent on every response."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, abort, g, redirect, request, url_for

ROLES = ("conseiller", "manager", "admin")

# Strict self-only policy: no inline script or style, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

UserLoader = Callable[[], Any]


def public(view: Callable) -> Callable:
    """Mark a view as reachable without a login. Every use is a decision: see
    tests/test_access.py, which lists the public endpoints one by one."""
    view.is_public = True
    return view


def roles_required(*roles: str) -> Callable[[Callable], Callable]:
    """Allow the view only to logged-in users holding one of `roles` (else 403)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("user") is None or g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator


def is_public_endpoint(app: Flask, endpoint: str | None) -> bool:
    """True when the endpoint was explicitly made public (static files are)."""
    if endpoint is None:
        return True  # no route matched: the 404 page must still render
    if endpoint == "static":
        return True
    view = app.view_functions.get(endpoint)
    return bool(getattr(view, "is_public", False))


def init_app(app: Flask, load_user: UserLoader) -> None:
    """Load the user for each request, refuse anonymous access, add headers."""

    @app.before_request
    def require_login():
        g.user = load_user()
        if g.user is not None or is_public_endpoint(app, request.endpoint):
            return None
        return redirect(url_for("auth.login", next=_safe_next()))

    @app.after_request
    def add_security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            # Pages may show families' personal data: never keep them in a cache.
            response.headers["Cache-Control"] = "no-store"
        return response


def _safe_next() -> str | None:
    """The path to come back to after login, only for pages (never an outside URL)."""
    if request.method != "GET":
        return None
    return request.full_path if request.query_string else request.path


def is_safe_redirect(target: str | None) -> bool:
    """Only local absolute paths are followed after login."""
    return bool(target) and target.startswith("/") and not target.startswith("//") \
        and "\\" not in target
