"""The browser tests' server stops for good, even with a browser's connection still open."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

from tests.browser.served import served


def _hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"bonjour"]


def test_the_server_stops_with_a_keep_alive_connection_open():
    for attempt in range(20):
        name = f"waitress-stop-{attempt}"
        with served(_hello, name) as url:
            address = urlsplit(url)
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"bonjour"
            # HTTP/1.1 keeps the connection open, as chromium does between pages.
        assert name not in {thread.name for thread in threading.enumerate()}
        connection.close()
