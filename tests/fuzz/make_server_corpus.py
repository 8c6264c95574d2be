#!/usr/bin/env python3
"""Writes the seed corpora of the server-side fuzz targets (fuzz_command,
fuzz_data_reader, fuzz_proxy, fuzz_server_session) under tests/fuzz/corpus/.
Seeds come from the dialogue scripts and hand-picked protocol vectors.
Crashers found later are added by hand next to the seeds (never by this
script). Usage: python3 tests/fuzz/make_server_corpus.py"""
import hashlib
import os
import re
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
DIALOGUES = os.path.join(ROOT, "..", "protocol", "dialogues")


def write(target, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:12]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def unescape(text):
    text = re.sub(r"\{\{(\d+)\*(.)\}\}", lambda m: m.group(2) * int(m.group(1)), text)
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            e = text[i + 1]
            if e == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t"}.get(e, e.encode())
            i += 2
            continue
        out += c.encode()
        i += 1
    return bytes(out)


def dialogue_seeds():
    for name in sorted(os.listdir(DIALOGUES)):
        opts = 0x04  # require_auth
        client = b""
        for line in open(os.path.join(DIALOGUES, name), encoding="utf-8"):
            line = line.rstrip("\n")
            if line.startswith("O:"):
                words = dict(w.split("=", 1) for w in line[3:].split())
                tls = {"none": 0, "starttls": 1, "implicit": 2}[words.get("tls", "starttls")]
                opts = tls | (4 if words.get("require_auth", "1") == "1" else 0)
                opts |= 8 if words.get("trusted") == "1" else 0
                opts |= 16 if int(words.get("max_size", "100000")) < 100 else 0
            elif line.startswith("C:"):
                client += unescape(line[3:]) + b"\r\n"
            elif line.startswith("R:"):
                client += unescape(line[3:])
        yield name, opts, client


def main():
    # fuzz_server_session: [options][split seed] client bytes
    for name, opts, client in dialogue_seeds():
        for seed in (1, 200):
            write("fuzz_server_session", bytes([opts, seed]) + client)
    # fuzz_command: the client lines of every dialogue, plus odd ones
    lines = set()
    for _, _, client in dialogue_seeds():
        for line in client.split(b"\n"):
            if line and len(line) < 300:
                lines.add(line + b"\n")
    for extra in [b"MAIL FROM:<@a.example,@b.example:\"q\\\"x\"@[IPv6:2001:db8::1]> SIZE=1 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=a+2Bb AUTH=<>\n",
                  b"RCPT TO:<u@[192.0.2.1]> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;u+40x\n",
                  b"BDAT 18446744073709551615 LAST\n", b"AUTH PLAIN =\n", b"EHLO [IPv6:::1]\n"]:
        lines.add(extra)
    for line in sorted(lines)[:60]:
        write("fuzz_command", line)
    # fuzz_data_reader: [split seed] data
    for i, body in enumerate([b".\r\n", b"a\r\n.\r\n", b"..x\r\n.\r\n", b"a\n.\nb\r\n.\r\n", b"a\r.\r\nb\r\n.\r\n",
                              b"a\n.\r\n.\r\n", b"x\r\n.\rX\r\n.\r\n", b"\r\r\n.\r\n", b"bare\ncr\r\r\n\r\n.\r\n",
                              b"line\r\n" * 50 + b".\r\n", b"no end", b"\r\n.\r", b"a" * 1200 + b"\r\n.\r\n",
                              b"a\r\n..\r\n...\r\n.\r\nTRAILING"]):
        for seed in (0, 3, 250):
            write("fuzz_data_reader", bytes([seed]) + body)
    # fuzz_proxy
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    v4 = bytes([192, 0, 2, 1, 198, 51, 100, 2]) + struct.pack(">HH", 12345, 587)
    v6 = bytes.fromhex("20010db8000000000000000000000001") + bytes(15) + b"\x01" + struct.pack(">HH", 1, 2)
    for h in [b"PROXY TCP4 192.0.2.1 198.51.100.2 12345 587\r\nEHLO x\r\n", b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n",
              b"PROXY TCP6 ::ffff:192.0.2.1 1:2:3:4:5:6:7:8 1 2\r\n", b"PROXY UNKNOWN\r\n",
              b"PROXY UNKNOWN 1 2 3\r\n", b"PROXY TCP4 1.2.3.4 5.6.7.8 65535 0\r\n", b"PROXY TCP4 1.2.3.4",
              b"PROXY TCP5 x\r\n", b"EHLO x\r\n", b"\x16\x03\x01",
              sig + b"\x21\x11" + struct.pack(">H", len(v4)) + v4,
              sig + b"\x21\x21" + struct.pack(">H", len(v6)) + v6,
              sig + b"\x20\x00\x00\x00", sig + b"\x21\x00\x00\x03abc",
              sig + b"\x21\x11" + struct.pack(">H", len(v4) + 8) + v4 + b"\x01\x00\x02h2\x04\x00\x00",
              sig + b"\x21\x31" + struct.pack(">H", 216) + bytes(216),
              sig + b"\x21\x11\xff\xff", sig + b"\x21\x11\x00\x0b" + v4[:11], sig[:7]]:
        write("fuzz_proxy", h)


if __name__ == "__main__":
    main()
