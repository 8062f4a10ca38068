#!/usr/bin/env python3
"""Submits N messages over SMTP in parallel sessions, with STARTTLS.

  submit.py PORT N SESSIONS SIZE RCPT [USER PASS]

Each session says EHLO, STARTTLS (RFC 3207), EHLO, AUTH PLAIN (RFC 4954)
when USER is given, then sends its share of the N messages (SIZE body
bytes each, one recipient) in one connection. Exits non-zero when any
message is refused. Used for the submission -> queue -> smtp-sink figure.
"""

import smtplib
import ssl
import sys
import threading

# Seconds one SMTP exchange may take.
TIMEOUT = 120
SENDER = "bench@bench.test"


def message(size, n):
    line = ("0123456789abcdefghijklmnopqrstuvwxyz" * 2)[:70] + "\r\n"
    body = (line * (size // len(line) + 1))[:size]
    body = body[: body.rfind("\r\n") + 2]
    return (
        f"From: <{SENDER}>\r\nTo: <sink@sink.bench.test>\r\nSubject: outbound bench {n}\r\n"
        f"Message-ID: <outbound-{n}@bench.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n{body}"
    ).encode()


def session(port, count, first, size, rcpt, user, password, errors):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as s:
            s.ehlo("bench.client")
            s.starttls(context=ctx)
            s.ehlo("bench.client")
            if user:
                s.login(user, password)
            for i in range(count):
                s.sendmail(SENDER, [rcpt], message(size, first + i))
    except (smtplib.SMTPException, OSError) as e:
        errors.append(f"{type(e).__name__}: {e}")


def main(argv):
    if len(argv) not in (6, 8):
        sys.exit(__doc__)
    port, n, sessions, size, rcpt = int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]), argv[5]
    user, password = (argv[6], argv[7]) if len(argv) == 8 else (None, None)
    errors, threads, first = [], [], 0
    for k in range(sessions):
        count = n // sessions + (1 if k < n % sessions else 0)
        t = threading.Thread(target=session, args=(port, count, first, size, rcpt, user, password, errors))
        first += count
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"submit: {len(errors)} sessions failed, first: {errors[0]}")


if __name__ == "__main__":
    main(sys.argv)
