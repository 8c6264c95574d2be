#!/usr/bin/env python3
"""Idle-session benchmark: hold N TLS sessions open after EHLO, then measure
relaypool's RSS and check that a fresh client is still served.

  idle_sessions.py --port 2587 --pid PID -n 10000 [--implicit-tls]

Opens N connections (STARTTLS on a submission port, or implicit TLS), sends
EHLO on each and leaves them idle. Prints the server's RSS before and after
(from /proc/PID/status), RSS per session, and how long a normal
connect + STARTTLS + EHLO + QUIT took while they were all open. This is a
benchmark, not a test: it reports figures, it does not pass or fail.
"""
import argparse
import asyncio
import ssl
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def read_reply(reader):
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


async def open_session(host, port, implicit, ctx):
    if implicit:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost")
        await read_reply(reader)
    else:
        reader, writer = await asyncio.open_connection(host, port)
        await read_reply(reader)
        writer.write(b"EHLO bench.example\r\n")
        await read_reply(reader)
        writer.write(b"STARTTLS\r\n")
        await read_reply(reader)
        await writer.start_tls(ctx, server_hostname="localhost")
    writer.write(b"EHLO bench.example\r\n")
    await read_reply(reader)
    return reader, writer


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("-n", type=int, default=10000)
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--batch", type=int, default=200)
    args = p.parse_args()

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    before = rss_kib(args.pid)
    sessions = []
    failures = 0
    t0 = time.monotonic()
    for start in range(0, args.n, args.batch):
        count = min(args.batch, args.n - start)
        results = await asyncio.gather(
            *[open_session(args.host, args.port, args.implicit_tls, ctx) for _ in range(count)],
            return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                failures += 1
            else:
                sessions.append(r)
    opened = time.monotonic() - t0
    await asyncio.sleep(2)
    after = rss_kib(args.pid)

    t1 = time.monotonic()
    reader, writer = await open_session(args.host, args.port, args.implicit_tls, ctx)
    writer.write(b"QUIT\r\n")
    await read_reply(reader)
    probe_ms = (time.monotonic() - t1) * 1000
    writer.close()

    held = len(sessions)
    per = (after - before) / held if held else 0
    print(f"idle TLS sessions held={held} failed={failures} open_time={opened:.1f}s "
          f"rss_before={before/1024:.1f}MiB rss_after={after/1024:.1f}MiB "
          f"per_session={per:.1f}KiB fresh_client_ms={probe_ms:.1f}")
    for _, w in sessions:
        w.close()


if __name__ == "__main__":
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
