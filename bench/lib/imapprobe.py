#!/usr/bin/env python3
"""Times SELECT, UID FETCH 1:* (FLAGS) and UID SEARCH TEXT on one mailbox.

  imapprobe.py HOST PORT USER PASS EXPECT REPEATS WARMUP SEARCHES NEEDLE

Over implicit TLS (RFC 8314), for each of WARMUP + REPEATS rounds: connect,
LOGIN, then time each command from sending it to its tagged OK, reading the
whole response; LOGOUT. The WARMUP rounds are not reported (the server
builds its index/caches there) and do not search; the first SEARCHES
measured rounds search (a search reads every message: it is the slow one). Checks that SELECT reports EXPECT messages,
that FETCH returns one response per message and that SEARCH answered; prints
JSON: {"select_ms": [...], "fetch_ms": [...], "search_ms": [...], ...}.
A raw socket client: imaplib's per-line parsing would cost more than the
servers do on the FETCH of a large mailbox.
"""

import json
import re
import socket
import ssl
import sys
import time

# Seconds one command may take.
TIMEOUT = 300
# Bytes read at once.
CHUNK = 1 << 20
# Bytes at the end of a response searched for its tagged status line.
TAIL = 4096


class Conn:
    def __init__(self, host, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        self.s = ctx.wrap_socket(raw)
        self.n = 0
        self.buf = b""
        line = self.read_until(lambda b: b"\r\n" in b)
        if not line.startswith(b"* OK"):
            raise SystemExit(f"imapprobe: greeting {line[:100]!r}")

    def read_until(self, done):
        buf = bytearray(self.buf)
        while not done(buf):
            data = self.s.recv(CHUNK)
            if not data:
                raise SystemExit("imapprobe: connection closed")
            buf += data
        self.buf = b""
        return bytes(buf)

    def cmd(self, text):
        """Sends one command; returns (seconds, whole response)."""
        self.n += 1
        tag = b"p%d" % self.n
        start = time.perf_counter()
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        # The tagged status ends the response (RFC 9051 §2.2.2); only the
        # tail can hold it, so only the tail is searched.
        needle = b"\r\n" + tag + b" "

        def tagged(b):
            if not b.endswith(b"\r\n"):
                return False
            return b.startswith(tag + b" ") or needle in b[-TAIL:]

        resp = self.read_until(tagged)
        secs = time.perf_counter() - start
        last = resp.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
        if not last.startswith(tag + b" OK"):
            raise SystemExit(f"imapprobe: {text.split()[0]} failed: {last[:200]!r}")
        return secs, resp


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv):
    if len(argv) != 10:
        sys.exit(__doc__)
    host, port, user, password = argv[1], int(argv[2]), argv[3], argv[4]
    expect, repeats, warmup, searches = int(argv[5]), int(argv[6]), int(argv[7]), int(argv[8])
    needle = argv[9]
    out = {"select_ms": [], "fetch_ms": [], "search_ms": [], "exists": None, "search_hits": None}
    for r in range(warmup + repeats):
        c = Conn(host, port)
        c.cmd(f"LOGIN {quote(user)} {quote(password)}")
        t_sel, resp = c.cmd("SELECT INBOX")
        m = re.search(rb"\* (\d+) EXISTS", resp)
        exists = int(m.group(1)) if m else -1
        if exists != expect:
            raise SystemExit(f"imapprobe: {user}: SELECT says {exists} messages, expected {expect}")
        t_fetch, resp = c.cmd("UID FETCH 1:* (FLAGS)")
        fetched = resp.count(b" FETCH (")
        if fetched != expect:
            raise SystemExit(f"imapprobe: {user}: FETCH returned {fetched} responses, expected {expect}")
        t_search = None
        if warmup <= r < warmup + searches:
            t_search, resp = c.cmd(f"UID SEARCH TEXT {quote(needle)}")
            m = re.search(rb"\* (?:E?SEARCH)([^\r\n]*)\r\n", resp)
            if m is None:
                raise SystemExit(f"imapprobe: {user}: no SEARCH response: {resp[:200]!r}")
            out["search_hits"] = len(m.group(1).split())
        try:
            c.cmd("LOGOUT")
        except SystemExit:
            pass  # some servers close right after BYE
        if r >= warmup:
            out["select_ms"].append(round(t_sel * 1000, 2))
            out["fetch_ms"].append(round(t_fetch * 1000, 2))
            if t_search is not None:
                out["search_ms"].append(round(t_search * 1000, 2))
        out["exists"] = exists
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
