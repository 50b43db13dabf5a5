"""WSGI entry point: `flask` finds it from the repo root; servers import `app`."""

from workshops import create_app

app = create_app()
