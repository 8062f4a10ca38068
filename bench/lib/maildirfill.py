#!/usr/bin/env python3
"""Writes N messages into a Maildir, for Dovecot's side of the IMAP figures.

  maildirfill.py MAILDIR N BODY_BYTES RCPT

The messages have the shape of those Postfix's smtp-source sends to moxd in
the same run (a Received line, From/To/Date/Message-Id/Subject, a body of
BODY_BYTES in 80-column lines of X), so both servers hold the same bytes.
Files go straight into cur/ without flags (unseen), named as Maildir++ with
the size (S=) Dovecot would record itself.
"""

import os
import sys
import time

# Body line length, as smtp-source writes them.
LINE = 80


def body(size):
    lines, n = [], 0
    while n < size:
        no = str(len(lines) + 1)
        line = (no + "X" * LINE)[: min(LINE, size - n)]
        lines.append(line)
        n += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__)
    maildir, count, size, rcpt = argv[1], int(argv[2]), int(argv[3]), argv[4]
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    text = body(size)
    start = int(time.time())
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(start))
    cur = os.path.join(maildir, "cur")
    for i in range(count):
        msg = (
            f"Received: from bench.client ([127.0.0.1])\r\n\tby maildirfill with SMTP id {i};\r\n\t{date}\r\n"
            f"From: <src@bench.test>\r\nTo: <{rcpt}>\r\nDate: {date}\r\n"
            f"Message-Id: <{start}.{i}@bench.client>\r\nSubject: bench message {i}\r\n\r\n{text}"
        ).encode()
        name = f"{start}.M{i}P{os.getpid()}.moxd-bench,S={len(msg)}:2,"
        with open(os.path.join(cur, name), "wb") as f:
            f.write(msg)


if __name__ == "__main__":
    main(sys.argv)
