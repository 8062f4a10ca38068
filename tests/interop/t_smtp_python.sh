#!/usr/bin/env bash
# Python's smtplib against localserve's submission: an 8BITMIME message
# (UTF-8 body) and an SMTPUTF8 message (UTF-8 local part, IDNA domain,
# UTF-8 headers), each over STARTTLS on 1587 and over implicit TLS on 1465,
# each with AUTH. Every message must be in the store byte for byte as sent,
# with the RFC 3848 / RFC 6531 §3.7.3 protocol name in its Received field.
# localserve is pedantic: SMTPUTF8 with 8-bit data but without
# BODY=8BITMIME must be refused (RFC 6152 §3) and store nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ls_start

timeout 120 "$PY" - "$MOXCTL_BIN" "$LS_DIR/ctl" <<'PY'
import smtplib
import time
import ssl
import subprocess
import sys

MOXCTL, SOCKET = sys.argv[1:3]
USER, PASSWORD = "mox@localhost", "moxmoxmox"
# Seconds smtplib waits for one reply.
SMTP_TIMEOUT = 20


def fail(msg):
    sys.exit(f"FAIL [t_smtp_python]: {msg}")


def ctl(*args):
    r = subprocess.run([MOXCTL, "--socket", SOCKET, *args], capture_output=True, timeout=30)
    if r.returncode != 0:
        fail(f"moxctl {' '.join(args)}: {r.stderr.decode(errors='replace')}")
    return r.stdout


def ids():
    out = ctl("message", "list", "mox").decode()
    return {int(line.split("\t")[0]) for line in out.splitlines() if line.split("\t")[0].isdigit()}


def crlf(text):
    return "".join(line + "\r\n" for line in text.split("\n")).encode("utf-8")


EIGHTBIT = crlf(
    "From: Mox <mox@localhost>\n"
    "To: Zoe <zoe@example.org>\n"
    "Subject: 8BITMIME from smtplib ({via})\n"
    "Message-ID: <8bitmime-{via}@interop.test>\n"
    "Date: Thu, 26 Nov 2026 12:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Grüße aus Köln — ünïcödé ✓ 日本語 😀\n"
    ".a UTF-8 line after a dot: é\n"
    "\n"
    "Ende."
)
UTF8_RCPT = "jürgen.müller@bücher.example"
SMTPUTF8 = crlf(
    "From: Mox <mox@localhost>\n"
    "To: Jürgen Müller <" + UTF8_RCPT + ">\n"
    "Subject: Grüße über SMTPUTF8 ({via})\n"
    "Message-ID: <smtputf8-{via}@interop.test>\n"
    "Date: Thu, 26 Nov 2026 12:00:01 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Привет, δοκιμή, 你好.\n"
    "Ende."
)


def connect(via):
    ctx = ssl._create_unverified_context()
    if via == "starttls":
        s = smtplib.SMTP("127.0.0.1", 1587, timeout=SMTP_TIMEOUT)
        s.ehlo("client.interop.test")
        if not s.has_extn("starttls"):
            fail("1587 does not offer STARTTLS")
        s.starttls(context=ctx)
        s.ehlo("client.interop.test")
        if s.has_extn("starttls"):
            fail("STARTTLS still offered after TLS started (RFC 3207 §4.2)")
    else:
        s = smtplib.SMTP_SSL("127.0.0.1", 1465, timeout=SMTP_TIMEOUT, context=ctx)
        s.ehlo("client.interop.test")
    for ext in ("8bitmime", "smtputf8"):
        if not s.has_extn(ext):
            fail(f"{via}: EHLO does not announce {ext.upper()}")
    s.login(USER, PASSWORD)
    return s


def send(via, rcpt, msg, options):
    before = ids()
    s = connect(via)
    try:
        refused = s.sendmail(USER, [rcpt], msg, mail_options=options)
    except smtplib.SMTPException as e:
        fail(f"{via}: sending with {options} failed: {e!r}")
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    if refused:
        fail(f"{via}: recipients refused: {refused!r}")
    # A remote recipient is queued; localserve's queue delivers it back to
    # the mox account shortly after the 250.
    deadline = time.time() + 30
    new = ids() - before
    while not new and time.time() < deadline:
        time.sleep(0.5)
        new = ids() - before
    if len(new) != 1:
        fail(f"{via} {options}: expected one new message in the store, found {sorted(new)}")
    return new.pop()


def check(via, kind, msg_id, sent, proto):
    raw = ctl("message", "get", "mox", str(msg_id), "--raw")
    if raw != sent:
        at = next((i for i, (a, b) in enumerate(zip(raw, sent)) if a != b), min(len(raw), len(sent)))
        fail(
            f"{kind} via {via}: message {msg_id} differs from what was sent at byte {at} "
            f"(sent {len(sent)} bytes, stored {len(raw)}): sent {sent[at:at + 40]!r}, stored {raw[at:at + 40]!r}"
        )
    full = ctl("message", "get", "mox", str(msg_id))
    if not full.endswith(raw):
        fail(f"{kind} via {via}: the stored message does not end with the message as received")
    prefix = full[: len(full) - len(raw)].decode("utf-8", errors="replace")
    if f" with {proto} " not in prefix:
        fail(f"{kind} via {via}: Received field does not say {proto}:\n{prefix}")
    print(f"[t_smtp_python] {kind} via {via}: message {msg_id} stored byte-identical ({len(sent)} bytes, {proto})")


for via in ("starttls", "implicit-tls"):
    m = EIGHTBIT.replace(b"{via}", via.encode())
    i = send(via, "zoe@example.org", m, ["BODY=8BITMIME"])
    check(via, "8BITMIME", i, m, "ESMTPSA")

    # SMTPUTF8 with BODY=8BITMIME, as smtplib's own send_message does it.
    m = SMTPUTF8.replace(b"{via}", via.encode())
    i = send(via, UTF8_RCPT, m, ["SMTPUTF8", "BODY=8BITMIME"])
    check(via, "SMTPUTF8", i, m, "UTF8SMTPSA")

# SMTPUTF8 alone with 8-bit data: refused by pedantic localserve, nothing stored.
before = ids()
s = connect("starttls")
try:
    s.sendmail(USER, [UTF8_RCPT], SMTPUTF8.replace(b"{via}", b"no-8bitmime"), mail_options=["SMTPUTF8"])
    fail("SMTPUTF8 with 8-bit data but without BODY=8BITMIME was accepted by pedantic localserve")
except smtplib.SMTPDataError as e:
    if e.smtp_code // 100 != 5:
        fail(f"SMTPUTF8 without BODY=8BITMIME: expected a 5xx, got {e.smtp_code} {e.smtp_error!r}")
    print(f"[t_smtp_python] SMTPUTF8 without BODY=8BITMIME refused: {e.smtp_code} {e.smtp_error.decode()}")
finally:
    try:
        s.quit()
    except smtplib.SMTPException:
        pass
if ids() != before:
    fail("a refused message was stored")

# A wrong password: 535 (RFC 4954 §6), no session.
try:
    s = smtplib.SMTP_SSL("127.0.0.1", 1465, timeout=SMTP_TIMEOUT, context=ssl._create_unverified_context())
    s.login(USER, "wrong-password")
    fail("login with a wrong password succeeded")
except smtplib.SMTPAuthenticationError as e:
    if e.smtp_code != 535:
        fail(f"wrong password: expected 535, got {e.smtp_code}")
    print(f"[t_smtp_python] wrong password: {e.smtp_code} {e.smtp_error.decode()}")
PY

ls_stop
echo "python smtplib ok: 8BITMIME and SMTPUTF8 over STARTTLS (1587) and implicit TLS (1465) stored byte-identical"
