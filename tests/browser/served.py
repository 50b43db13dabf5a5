"""The app served by waitress in a thread of the test process, for the browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import waitress
from waitress import wasyncore

STOP_TIMEOUT = 5  # seconds


@contextmanager
def served(app, name: str) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 and yield its base URL; stop it when the block ends.

    The stop runs inside the server's own loop, through waitress's trigger, and closes every
    socket of that loop, a browser's keep-alive connections included. `server.close()` from the
    test thread closed only the listening socket: the loop went on serving the open connections
    forever, then failed with EBADF in select(), and pytest blamed whichever test was tearing
    down at that moment.
    """
    sockets: dict = {}
    server = waitress.create_server(app, map=sockets, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
        thread.join(timeout=STOP_TIMEOUT)
        server.task_dispatcher.shutdown()
        if thread.is_alive():
            raise RuntimeError(f"{name}: the server did not stop within {STOP_TIMEOUT} s")
