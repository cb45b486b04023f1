"""A TCP relay on loopback whose answers to the client can be held until an event: it orders a test by what
happened, not by how long something took. Bytes pass unchanged (HTTP, NTLM and its sealing included)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def gated_relay(listen: tuple[str, int], upstream: tuple[str, int], hold: Callable[[], None]) -> Iterator[None]:
    """Relay connections made to `listen` to `upstream`; `hold()` runs before each chunk goes back to the client
    and may block (it must return eventually: the relay never gives up on its own)."""
    server = socket.create_server(listen)
    sockets: list[socket.socket] = [server]

    def pump(src: socket.socket, dst: socket.socket, gate: Callable[[], None] | None) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if gate is not None:
                    gate()
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = server.accept()
                backend = socket.create_connection(upstream)
                sockets.extend((client, backend))
                threading.Thread(target=pump, args=(client, backend, None), daemon=True).start()
                threading.Thread(target=pump, args=(backend, client, hold), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
