"""Running the ASGI server: uvicorn, with Nagle's algorithm off in every worker.

With ``--workers N`` uvicorn binds the listening socket itself and hands it to the worker
processes; that socket is created without ``IPPROTO_TCP``, so asyncio never sets
``TCP_NODELAY`` on the connections it accepts, and every keep-alive request after the first
waits ~40 ms for the client's delayed ACK (uvicorn issue #3149). :class:`TcpConfig` rebinds
the same file descriptor with the protocol stated; the single-process path is unaffected.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


class TcpConfig(uvicorn.Config):
    """A uvicorn configuration whose pre-bound TCP socket says it is TCP."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            family, kind = sock.family, sock.type
            sock = socket.socket(family, kind, socket.IPPROTO_TCP, fileno=sock.detach())
            sock.set_inheritable(True)
        return sock


def run(app: str, *, host: str, port: int, workers: int) -> None:
    """Serve the application factory ``app`` (``module:function``) until interrupted."""
    config = TcpConfig(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # our middleware logs route templates, never raw paths with ids
        log_level="warning",
    )
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
