#!/usr/bin/env python3
"""How long the relay's event loop makes a client wait: one SMTP session
sends NOOP every 5 ms and times each reply until STOP_FILE exists, then
prints "noop n=N p50=.. p99=.. max=.. ms". NOOP touches no disk, so a slow
reply means the loop was busy (or blocked) with something else.

    bench/loop_probe.py PORT STOP_FILE

Used by bench/restart_bench.sh during the restart's drain. Timings only."""
import os
import socket
import sys
import time

port, stop_file = int(sys.argv[1]), sys.argv[2]
with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            if not line or line[3:4] != b"-":
                return line

    reply()  # greeting
    s.sendall(b"EHLO probe.example\r\n")
    reply()
    waits = []
    while not os.path.exists(stop_file):
        t = time.perf_counter()
        s.sendall(b"NOOP\r\n")
        if not reply().startswith(b"250"):
            break
        waits.append((time.perf_counter() - t) * 1000)
        time.sleep(0.005)
waits.sort()
if waits:
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))]
    print(f"noop n={len(waits)} p50={pick(0.5):.2f} p99={pick(0.99):.2f} max={waits[-1]:.2f} ms")
else:
    print("noop n=0")
