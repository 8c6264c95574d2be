#!/usr/bin/env python3
"""A round-robin TCP forwarder for bench/run_e2e_redis.sh: one listening
port, each new connection handed to the next backend in turn (bytes copied
both ways, TLS passes through untouched). It stands in for the load
balancer in front of several relaypool instances. Timings only.

    tcp_balance.py LISTEN_PORT BACKEND_PORT [BACKEND_PORT...]
"""

import asyncio
import itertools
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    listen = int(sys.argv[1])
    backends = itertools.cycle(int(p) for p in sys.argv[2:])

    async def handle(client_reader, client_writer):
        port = next(backends)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, w), pipe(r, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
