#!/usr/bin/env python3
"""Seed corpus for fuzz_spool_recovery: queue directories as a crash, a full
disk or an operator could leave them, in the target's "==> DIR/NAME <=="
format. Checksums are left as zeros: the target fixes them (as a writer
would have). Run once; the fuzzer's merges grow the corpus from here."""
import hashlib
import os
import sys

ID_A, ID_B = "00062a3b1c4d5e6f", "00062a3b1c4d5e70"
BODY = "Received: from app-server-1\r\nSubject: reminder\r\n\r\nPlease pay.\r\n"


def message(id_, rcpts=("alice@example.net", "bob@example.org"), body=BODY):
    head = (
        "RELAYPOOL-MESSAGE 1\n"
        f"id {id_}\n"
        "arrival 1764097000123\n"
        "from app@example.com\n"
        + "".join(f"rcpt {r} %- %-\n" for r in rcpts)
        + "ret HDRS\nenvid QQ314159\nsmtputf8 0\n8bitmime 1\n"
        "listener submission\nclient 192.0.2.10\nhelo app-server-1\nauth billing-app\n"
    )
    return head + f"end {len(body.encode()):020d} 0000000000000000\n" + body


STATE_DEFERRED = (
    "RELAYPOOL-STATE 1\nstate deferred\nattempts 3\nnext 1764098800000\n"
    "error 421%204.7.0%20Try%20again%20later\n"
    "rcpt delivered 1 acct07@agency.example 250%202.0.0%20OK\n"
    "rcpt pending 3 %- 450%204.2.1%20slow%20down\n"
    "attempt 1764097100000 acct07@agency.example delivered%201/2\n"
    "end 0000000000000000\n"
)
STATE_ACTIVE = STATE_DEFERRED.replace("state deferred", "state active")


def files(*pairs):
    return "".join(f"==> {path} <==\n{data}" for path, data in pairs)


SEEDS = {
    "one_message": files((f"queue/{ID_A}", message(ID_A))),
    "message_and_state": files((f"queue/{ID_A}", message(ID_A)), (f"queue/{ID_A}.state", STATE_DEFERRED)),
    "interrupted_active": files((f"queue/{ID_A}", message(ID_A)), (f"queue/{ID_A}.state", STATE_ACTIVE)),
    "orphan_state": files((f"queue/{ID_B}.state", STATE_DEFERRED)),
    "tmp_leftover": files((f"tmp/{ID_A}.1", message(ID_A)[:60]), (f"queue/{ID_B}", message(ID_B))),
    "truncated_body": files((f"queue/{ID_A}", message(ID_A)[:-5])),
    "probe_left_by_a_crash": "==> tmp/.probe.1 <==\nx\n" + files((f"queue/{ID_A}", message(ID_A))),
    "wrong_id_inside": files((f"queue/{ID_B}", message(ID_A))),
    "stray_and_quarantine": files(
        ("queue/notes.txt", "hello\n"), (f"quarantine/{ID_A}", "old\n"), (f"queue/{ID_A}", "garbage\n")
    ),
    "state_for_other_count": files(
        (f"queue/{ID_A}", message(ID_A, rcpts=("a@example.net",))), (f"queue/{ID_A}.state", STATE_DEFERRED)
    ),
    "two_messages": files(
        (f"queue/{ID_A}", message(ID_A)), (f"queue/{ID_B}", message(ID_B, rcpts=("c@example.com",))),
        (f"queue/{ID_B}.state", "RELAYPOOL-STATE 1\nstate ready\nattempts 0\n"
         "rcpt pending 0 %- %-\nend 0000000000000000\n"),
    ),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_spool_recovery")
os.makedirs(out, exist_ok=True)
for data in SEEDS.values():
    raw = data.encode()
    with open(os.path.join(out, hashlib.sha1(raw).hexdigest()), "wb") as f:
        f.write(raw)
print(f"{len(SEEDS)} seeds in {out}")
