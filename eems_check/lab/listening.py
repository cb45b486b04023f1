"""One accept loop for many listening sockets (the lab's WinRM listeners, and its web listeners).

A ``serve_forever`` thread per listener polls its socket 20 times a second; at a few hundred simulated servers
that cost a whole core doing nothing. One selector over all of them costs nothing while idle.
"""

from __future__ import annotations

import selectors
import socketserver
import threading
from collections.abc import Iterable


def serve_until(listeners: Iterable[socketserver.BaseServer], stopping: threading.Event) -> None:
    """Accept on every listener and hand each connection to it (a thread per connection) until `stopping` is
    set; it is seen within 50 ms."""
    with selectors.DefaultSelector() as selector:
        for listener in listeners:
            selector.register(listener.socket, selectors.EVENT_READ, listener)  # type: ignore[attr-defined]
        while not stopping.is_set():
            for key, _ in selector.select(0.05):
                listener = key.data
                try:
                    request, client = listener.get_request()
                except OSError:
                    continue
                try:
                    listener.process_request(request, client)
                except Exception:
                    listener.handle_error(request, client)
                    listener.shutdown_request(request)
