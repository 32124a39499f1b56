"""The server's listening socket: accepted connections must have Nagle's algorithm off.

With it on, every keep-alive request after the first on a connection waits for the
client's delayed ACK (~40 ms on Linux) when uvicorn runs several workers.
"""

from __future__ import annotations

import asyncio
import socket

from msinfuse.cli.serving import TcpConfig


def _nodelay_of_accepted(listener: socket.socket) -> int:
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return seen[0]


def test_the_pre_bound_socket_of_several_workers_gives_connections_tcp_nodelay():
    config = TcpConfig("msinfuse.app:create_app_from_environment", host="127.0.0.1", port=0)
    listener = config.bind_socket()
    assert listener.proto == socket.IPPROTO_TCP
    assert listener.get_inheritable()
    assert _nodelay_of_accepted(listener) == 1
