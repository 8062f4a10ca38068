#!/usr/bin/env bash
# Python's imaplib against localserve's IMAP: implicit TLS on 1993 (the
# certificate verified against localserve's own tls/cert.pem) and
# STARTTLS on 1143; LOGIN, APPEND (APPENDUID), SEARCH, FETCH, STORE, MOVE
# (RFC 6851, COPYUID) and a wrong password, each checked on contents.
# A message delivered by swaks over SMTP (1025) must come back over IMAP
# byte-identical: BODY[] is the stored prefix (only header fields moxd
# added, Received first) followed by exactly what swaks sent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# localserve's IMAP ports are fixed too.
LS_PORTS+=(1143 1993)

# swaks sends the --data file with CRLF line ends and dot-stuffing, and
# adds CRLF after a last line without one (see t_smtp_swaks.sh). 7-bit
# only: localserve wants BODY=8BITMIME for 8-bit data, which swaks does
# not declare.
printf '%s\r\n' \
    'From: Sender <sender@example.org>' \
    'To: Mox <mox@localhost>' \
    'Subject: interop imap via smtp' \
    'Message-ID: <imap-swaks@interop.test>' \
    'Date: Thu, 26 Nov 2026 12:00:02 +0000' \
    'MIME-Version: 1.0' \
    'Content-Type: text/plain; charset=us-ascii' \
    '' \
    'Delivered by SMTP, fetched over IMAP.' \
    '.a line that starts with a dot' \
    'trailing spaces   ' \
    '	a tab-indented line' \
    'a line with = and ; and : in it' \
    '' >"$WORK/swaks.eml"
printf 'last line' >>"$WORK/swaks.eml"
{ cat "$WORK/swaks.eml"; printf '\r\n'; } >"$WORK/swaks.expected"

ls_start

before=$(msg_ids)
timeout 60 swaks --timeout 20 --server 127.0.0.1 --port 1025 \
    --from sender@example.org --to mox@localhost \
    --data "$WORK/swaks.eml" </dev/null >"$WORK/swaks.out" 2>&1 ||
    fail "swaks to smtp-in failed: $(tail -n 5 "$WORK/swaks.out")"
id=$(wait_new_id "$before" 30)
msg_get "$id" "$WORK/swaks.stored"
note "swaks delivered message $id ($(wc -c <"$WORK/swaks.stored") bytes stored)"

"$PY" - "$LS_DIR/tls/cert.pem" "$WORK/swaks.expected" "$WORK/swaks.stored" <<'PY'
import imaplib, re, ssl, sys, time

cafile, expected_path, stored_path = sys.argv[1:4]
USER, PASSWORD = "mox@localhost", "moxmoxmox"
# Seconds any one socket operation may take.
TIMEOUT = 30
expected = open(expected_path, "rb").read()
stored = open(stored_path, "rb").read()

def ok(res, what):
    typ, data = res
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data

def ctx():
    # localserve's self-signed certificate names localhost, 127.0.0.1 and ::1.
    c = ssl.create_default_context(cafile=cafile)
    c.minimum_version = ssl.TLSVersion.TLSv1_2
    return c

def caps(c):
    return set(ok(c.capability(), "CAPABILITY")[0].decode().upper().split())

def fetch_one(c, uid, item):
    """The literal of `item` for one UID (UID FETCH)."""
    data = ok(c.uid("FETCH", str(uid), f"({item})"), f"UID FETCH {uid} {item}")
    lits = [d for d in data if isinstance(d, tuple)]
    assert len(lits) == 1, f"UID FETCH {uid} {item}: {data!r}"
    return lits[0][1]

def uids_of(c, *criteria):
    data = ok(c.uid("SEARCH", *criteria), f"UID SEARCH {criteria}")
    return [int(x) for x in data[0].split()]

def check_prefix(prefix):
    # What moxd adds at delivery: whole header fields only (a field line,
    # then folded continuation lines), CRLF-terminated, Received first.
    assert prefix.startswith(b"Received: "), prefix[:80]
    assert prefix.endswith(b"\r\n"), prefix[-80:]
    lines = prefix[:-2].split(b"\r\n")
    for line in lines:
        assert re.match(rb"^([!-9;-~]+: |[ \t])", line), f"not a header line in the prefix: {line!r}"
    return lines

# --- 1. Implicit TLS on 1993: the certificate is checked, nothing skipped.
c = imaplib.IMAP4_SSL("127.0.0.1", 1993, ssl_context=ctx(), timeout=TIMEOUT)
assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
pre = caps(c)
for need in ("IMAP4REV2", "IMAP4REV1", "AUTH=PLAIN"):
    assert need in pre, (need, pre)
assert "STARTTLS" not in pre and "LOGINDISABLED" not in pre, pre
ok(c.login(USER, PASSWORD), "LOGIN over 1993")
post = caps(c)
for need in ("MOVE", "UIDPLUS", "IDLE", "ESEARCH", "CONDSTORE", "SPECIAL-USE"):
    assert need in post, (need, post)

# LIST: the special-use mailboxes exist.
boxes = ok(c.list(), "LIST")
listed = b"\n".join(boxes).decode()
for name, use in (("Sent", "\\Sent"), ("Archive", "\\Archive"), ("Trash", "\\Trash")):
    assert re.search(r"\(([^)]*)\) \"/\" \"?%s\"?$" % name, listed, re.M), (name, listed)
    assert use in listed, (use, listed)

# Drop leftovers of an earlier run in the mailbox used here.
try:
    c.delete("Interop")
except imaplib.IMAP4.error:
    pass
ok(c.create("Interop"), "CREATE Interop")

# APPEND with flags and a date: APPENDUID (RFC 4315 §3).
msg = (b"From: Py <py@example.org>\r\nTo: mox@localhost\r\n"
       b"Subject: imaplib append one\r\nMessage-ID: <py-1@interop.test>\r\n"
       b"Date: Thu, 26 Nov 2026 12:00:03 +0000\r\n\r\n"
       b"first appended body, marker PYMARK-ONE\r\n")
typ, data = c.append("Interop", r"(\Flagged $Interop)", imaplib.Time2Internaldate(1795000000), msg)
assert typ == "OK", (typ, data)
m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
assert m, f"APPEND without APPENDUID: {data!r}"
uidvalidity, uid1 = int(m.group(1)), int(m.group(2))
msg2 = msg.replace(b"one", b"two").replace(b"py-1", b"py-2").replace(b"PYMARK-ONE", b"PYMARK-TWO")
typ, data = c.append("Interop", r"(\Seen)", None, msg2)
assert typ == "OK", (typ, data)
uid2 = int(re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0]).group(1))
assert uid2 > uid1, (uid1, uid2)

# SELECT: counts and UIDVALIDITY agree with what APPEND said.
n = int(ok(c.select("Interop"), "SELECT Interop")[0])
assert n == 2, n
assert int(c.untagged_responses["UIDVALIDITY"][0]) == uidvalidity, c.untagged_responses

# SEARCH: by body text, header, flags, keyword and UID.
assert uids_of(c, "BODY", "PYMARK-ONE") == [uid1]
assert uids_of(c, "SUBJECT", "\"append two\"") == [uid2]
assert uids_of(c, "HEADER", "Message-ID", "py-2@interop.test") == [uid2]
assert uids_of(c, "FLAGGED") == [uid1]
assert uids_of(c, "KEYWORD", "$Interop") == [uid1]
assert uids_of(c, "UNSEEN") == [uid1]
assert uids_of(c, "ALL") == [uid1, uid2]
assert uids_of(c, "NOT", "BODY", "PYMARK") == []

# FETCH: the bytes, parts of them, flags, size, date.
assert fetch_one(c, uid1, "BODY.PEEK[]") == msg
assert fetch_one(c, uid2, "BODY.PEEK[TEXT]") == msg2.split(b"\r\n\r\n", 1)[1]
hdr = fetch_one(c, uid1, "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
assert hdr == b"Subject: imaplib append one\r\n\r\n", hdr
assert fetch_one(c, uid1, "BODY.PEEK[]<6.2>") == msg[6:8]
data = ok(c.uid("FETCH", f"{uid1}", "(FLAGS RFC822.SIZE INTERNALDATE)"), "FETCH FLAGS")
line = data[0].decode()
assert f"RFC822.SIZE {len(msg)}" in line, line
# Keywords are case-insensitive (RFC 9051 §2.3.2); moxd keeps them lower-cased.
assert "\\Flagged" in line and "$interop" in line.lower(), line
assert "\\Seen" not in line, line  # BODY.PEEK did not set \Seen
assert '"' in line and "INTERNALDATE" in line, line

# STORE: flags change and FETCH sees it.
data = ok(c.uid("STORE", str(uid1), "+FLAGS", r"(\Seen \Answered)"), "STORE")
assert "\\Answered" in data[0].decode(), data
assert uids_of(c, "ANSWERED") == [uid1]
assert uids_of(c, "UNSEEN") == []

# MOVE (RFC 6851): COPYUID, EXPUNGE here, the message with its flags there.
typ, data = c.uid("MOVE", str(uid1), "Archive")
assert typ == "OK", (typ, data)
# RFC 6851 §4.3: COPYUID in an untagged OK before the expunges
# (imaplib files a response code under its name).
copyuid = c.untagged_responses.get("COPYUID", [])
assert len(copyuid) == 1, f"MOVE without one COPYUID: {data!r} {c.untagged_responses!r}"
m = re.fullmatch(rb"(\d+) (\d+) (\d+)", copyuid[0])
assert m and int(m.group(2)) == uid1, copyuid
moved_uid = int(m.group(3))
assert c.untagged_responses.get("EXPUNGE") or c.untagged_responses.get("VANISHED"), c.untagged_responses
assert uids_of(c, "ALL") == [uid2]
n = int(ok(c.select("Archive", readonly=True), "EXAMINE Archive")[0])
assert n >= 1, n
assert fetch_one(c, moved_uid, "BODY.PEEK[]") == msg
data = ok(c.uid("FETCH", str(moved_uid), "(FLAGS)"), "FETCH FLAGS in Archive")[0].decode()
assert "\\Flagged" in data and "\\Answered" in data and "\\Seen" in data, data
st = ok(c.status("Interop", "(MESSAGES UNSEEN UIDNEXT)"), "STATUS")[0].decode()
assert "MESSAGES 1" in st and "UNSEEN 0" in st, st
assert c.logout()[0] == "BYE"
print("1993 implicit TLS: LOGIN, APPEND, SEARCH, FETCH, STORE, MOVE ok")

# --- 2. STARTTLS on 1143.
c = imaplib.IMAP4("127.0.0.1", 1143, timeout=TIMEOUT)
assert "STARTTLS" in caps(c), "no STARTTLS before TLS"
ok(c.starttls(ssl_context=ctx()), "STARTTLS")
assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
assert "STARTTLS" not in caps(c), "STARTTLS still announced after TLS"
ok(c.login(USER, PASSWORD), "LOGIN after STARTTLS")
ok(c.select("INBOX"), "SELECT INBOX")

# The message swaks delivered: BODY[] is prefix + exactly what swaks sent.
found = uids_of(c, "HEADER", "Message-ID", "imap-swaks@interop.test")
assert len(found) == 1, found
body = fetch_one(c, found[0], "BODY.PEEK[]")
assert body == stored, f"BODY[] ({len(body)} bytes) differs from what the store holds ({len(stored)} bytes)"
assert body.endswith(expected), "BODY[] does not end with the message as swaks sent it"
prefix = body[: len(body) - len(expected)]
lines = check_prefix(prefix)
size = int(re.search(rb"RFC822.SIZE (\d+)", ok(c.uid("FETCH", str(found[0]), "(RFC822.SIZE)"), "SIZE")[0]).group(1))
assert size == len(body), (size, len(body))
assert fetch_one(c, found[0], "BODY.PEEK[TEXT]") == expected.split(b"\r\n\r\n", 1)[1]
print(f"1143 STARTTLS: swaks message UID {found[0]} byte-identical ({len(expected)} bytes sent, prefix of {len(lines)} header line(s))")

# MOVE over STARTTLS too, then back, the bytes unchanged.
typ, data = c.uid("MOVE", str(found[0]), "Interop")
assert typ == "OK", (typ, data)
assert uids_of(c, "HEADER", "Message-ID", "imap-swaks@interop.test") == []
ok(c.select("Interop"), "SELECT Interop")
back = uids_of(c, "HEADER", "Message-ID", "imap-swaks@interop.test")
assert len(back) == 1, back
assert fetch_one(c, back[0], "BODY.PEEK[]") == stored
ok(c.uid("MOVE", str(back[0]), "INBOX"), "MOVE back to INBOX")
assert c.logout()[0] == "BYE"

# --- 3. A wrong password: NO, and the session can go on (RFC 9051 §6.2.3).
c = imaplib.IMAP4_SSL("127.0.0.1", 1993, ssl_context=ctx(), timeout=TIMEOUT)
t0 = time.monotonic()
try:
    c.login(USER, "not-the-password")
    raise AssertionError("LOGIN with a wrong password succeeded")
except imaplib.IMAP4.error as e:
    assert "AUTHENTICATIONFAILED" in str(e).upper(), e
ok(c.login(USER, PASSWORD), "LOGIN after a failure")
assert c.logout()[0] == "BYE"
print(f"wrong password refused ({time.monotonic() - t0:.1f}s with the failed-login delay)")
PY
[ "$(msg_count)" -ge 1 ] || fail "the swaks message is no longer in the Inbox after moving it back"

ls_stop
echo "imaplib ok: 1993 and STARTTLS, APPEND/SEARCH/FETCH/STORE/MOVE, swaks message byte-identical over IMAP"
