#!/usr/bin/env bash
# isync (mbsync 1.4) against localserve's IMAP over STARTTLS (1143): one
# mailbox synchronised both ways with a local Maildir — messages each
# side has that the other lacks, then flag changes and new messages on
# both sides — checked on mbsync's counters, on the bytes and on the
# flags. A final run must change nothing: all counters zero, the moxd
# mailbox (UIDs, flags, contents, HIGHESTMODSEQ) and the Maildir (file
# names and contents) exactly as before.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# localserve's IMAP ports are fixed too.
LS_PORTS+=(1143 1993)

IMAP_USER=mox@localhost
IMAP_PASS=moxmoxmox
BOX=Sync
MAILDIR=$WORK/maildir
RC=$WORK/mbsyncrc
# Seconds one mbsync run may take.
MBSYNC_TIMEOUT=120

ls_start

# isync 1.4 syntax (1.5 renamed SSLType to TLSType). The certificate file
# holds localserve's self-signed certificate: isync trusts a certificate
# it finds there directly.
cat >"$RC" <<EOF
IMAPAccount moxd
Host 127.0.0.1
Port 1143
User $IMAP_USER
Pass $IMAP_PASS
SSLType STARTTLS
CertificateFile $LS_DIR/tls/cert.pem
AuthMechs PLAIN

IMAPStore moxd-remote
Account moxd

MaildirStore local
Path $MAILDIR/
Inbox $MAILDIR/INBOX
SubFolders Verbatim

Channel moxd
Far :moxd-remote:
Near :local:
Patterns $BOX
Create Both
SyncState *
EOF

# imap CODE ARGS...: run Python CODE with `c`, an imaplib session logged
# in to localserve (plain on loopback, as localserve allows), `box` and
# `args` (ARGS).
IMAP_PRELUDE=$(
    cat <<'PY'
import hashlib, imaplib, json, re, sys
user, password, box = sys.argv[1:4]
args = sys.argv[4:]
c = imaplib.IMAP4("127.0.0.1", 1143, timeout=30)
typ, _ = c.login(user, password)
assert typ == "OK"
def ok(res, what):
    assert res[0] == "OK", (what, res)
    return res[1]
PY
)
imap() {
    "$PY" -c "$IMAP_PRELUDE"$'\n'"$1"$'\n''c.logout()' "$IMAP_USER" "$IMAP_PASS" "$BOX" "${@:2}"
}

# msgid(bytes): the Message-ID of a message (the key both sides share:
# mbsync adds an X-TUID header field to what it copies).
MSGID_PY='
def msgid(data):
    m = re.search(rb"^Message-ID: *<([^>]*)>", data, re.M | re.I)
    return m.group(1).decode() if m else "?"
'

# remote_state: the moxd mailbox as JSON, one message a line: uid,
# Message-ID, flags (sorted, system flags only: mbsync 1.4 syncs no
# keywords), sha256 of the contents; then STATUS with HIGHESTMODSEQ.
remote_state() {
    imap "$MSGID_PY"'
st = ok(c.status(box, "(UIDNEXT HIGHESTMODSEQ MESSAGES)"), "STATUS")[0].decode()
ok(c.select(box, readonly=True), "EXAMINE")
data = ok(c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])"), "FETCH")
msgs = []
for d in data:
    if not isinstance(d, tuple):
        continue
    head = d[0].decode()
    uid = int(re.search(r"UID (\d+)", head).group(1))
    flags = sorted(f for f in re.search(r"FLAGS \(([^)]*)\)", head).group(1).split() if f.startswith("\\"))
    msgs.append((uid, msgid(d[1]), flags, hashlib.sha256(d[1]).hexdigest()[:16]))
for m in sorted(msgs):
    print(json.dumps(m))
print(st)
'
}

# local_state: the Maildir, one message a line: sub-directory, file name,
# Message-ID, sha256 of the contents.
local_state() {
    "$PY" -c "import hashlib, os, re, sys"$'\n'"$MSGID_PY"'
root = sys.argv[1]
for sub in ("cur", "new"):
    for name in sorted(os.listdir(os.path.join(root, sub))):
        data = open(os.path.join(root, sub, name), "rb").read()
        print(sub, name, msgid(data), hashlib.sha256(data).hexdigest()[:16])
' "$MAILDIR/$BOX"
}

# local_flags: "Message-ID flags" per local message (Maildir info after ":2,").
local_flags() {
    local_state | awk '{ n = split($2, a, ":2,"); print $3, (n > 1 ? a[2] : "") }' | sort
}

# remote_flags: "Message-ID flags" per moxd message, flags as Maildir letters.
remote_flags() {
    remote_state | "$PY" -c '
import json, sys
letters = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
for line in sys.stdin:
    if line.startswith("["):
        uid, mid, flags, digest = json.loads(line)
        print(mid, "".join(sorted(letters[f] for f in flags if f in letters)))
' | sort
}

# sync NAME: one mbsync run; prints its last counter line, e.g.
# "C: 1/1  B: 1/1  F: +2/2 *0/0 #0/0  N: +3/3 *0/0 #0/0" (F: what went to
# the far side, moxd; N: to the near side, the Maildir; + new messages,
# * flag changes, # deletions). mbsync shows counters only on a terminal:
# script(1) gives it one.
sync() {
    local name=$1
    timeout "$MBSYNC_TIMEOUT" script -qec "mbsync -c '$RC' -a" /dev/null </dev/null >"$WORK/$name.out" 2>&1 ||
        fail "mbsync ($name) failed: $(tr '\r' '\n' <"$WORK/$name.out" | tail -n 20)"
    local counters
    counters=$(tr '\r' '\n' <"$WORK/$name.out" | grep -E '^C: [0-9]+/[0-9]+ ' | tail -n 1)
    [ -n "$counters" ] || fail "mbsync ($name) printed no counters: $(tr '\r' '\n' <"$WORK/$name.out" | tail -n 20)"
    note "mbsync $name: $counters" >&2
    printf '%s\n' "$counters"
}

# expect_counters NAME ACTUAL FAR NEAR: the F: and N: parts, e.g.
# expect_counters first "$c" "+2/2 *0/0 #0/0" "+3/3 *0/0 #0/0".
expect_counters() {
    [[ "$2" == *"F: $3  N: $4"* ]] || fail "mbsync $1: expected F: $3  N: $4, got: $2"
}

# 1. Three messages on moxd, two in the Maildir, none on both sides.
imap '
try:
    c.delete(box)
except imaplib.IMAP4.error:
    pass
ok(c.create(box), "CREATE")
for i, flags in enumerate((r"(\Seen)", r"(\Flagged \Answered)", None)):
    msg = (b"From: Remote <remote@example.org>\r\nTo: mox@localhost\r\n"
           b"Subject: remote %d\r\nMessage-ID: <remote-%d@mbsync.test>\r\n\r\n"
           b"remote body %d\r\n" % (i, i, i))
    ok(c.append(box, flags, None, msg), "APPEND")
'
mkdir -p "$MAILDIR/$BOX/cur" "$MAILDIR/$BOX/new" "$MAILDIR/$BOX/tmp"
for i in 0 1; do
    printf 'From: Local <local@example.org>\nTo: mox@localhost\nSubject: local %s\nMessage-ID: <local-%s@mbsync.test>\n\nlocal body %s\nwith two lines\n' \
        "$i" "$i" "$i" >"$WORK/local-$i.eml"
done
cp "$WORK/local-0.eml" "$MAILDIR/$BOX/cur/1700000000.1_1.seed:2,S"
cp "$WORK/local-1.eml" "$MAILDIR/$BOX/new/1700000000.2_2.seed"

c1=$(sync first)
expect_counters first "$c1" "+2/2 *0/0 #0/0" "+3/3 *0/0 #0/0"
[ "$(remote_state | grep -c '^\[')" = 5 ] || fail "after the first sync moxd's $BOX does not hold 5 messages: $(remote_state)"
[ "$(local_state | wc -l)" = 5 ] || fail "after the first sync the Maildir does not hold 5 messages: $(local_state)"
[ "$(remote_flags)" = "$(local_flags)" ] ||
    fail "after the first sync the flags differ: moxd: $(remote_flags | tr '\n' ';') Maildir: $(local_flags | tr '\n' ';')"
# The local messages arrived byte for byte (LF as CRLF: Maildir has LF).
imap '
ok(c.select(box, readonly=True), "EXAMINE")
for i in (0, 1):
    want = open(args[0] + "/local-%d.eml" % i, "rb").read().replace(b"\n", b"\r\n")
    uids = ok(c.uid("SEARCH", "HEADER", "Message-ID", "local-%d@mbsync.test" % i), "SEARCH")[0].split()
    assert len(uids) == 1, (i, uids)
    got = [d[1] for d in ok(c.uid("FETCH", uids[0], "(BODY.PEEK[])"), "FETCH") if isinstance(d, tuple)]
    # mbsync marks what it uploads with an X-TUID header field.
    assert len(got) == 1 and re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", got[0], count=1) == want, (i, got, want)
    flags = ok(c.uid("FETCH", uids[0], "(FLAGS)"), "FETCH")[0].decode()
    assert ("\\Seen" in flags) == (i == 0), (i, flags)
' "$WORK"
grep -q 'remote body 1' "$MAILDIR/$BOX"/*/*:2,FR ||
    fail "the \\Flagged \\Answered message is not in the Maildir as :2,FR: $(local_state)"

# 2. Flag changes and a new message on each side.
imap '
ok(c.select(box), "SELECT")
r2 = ok(c.uid("SEARCH", "HEADER", "Message-ID", "remote-2@mbsync.test"), "SEARCH")[0].decode()
r0 = ok(c.uid("SEARCH", "HEADER", "Message-ID", "remote-0@mbsync.test"), "SEARCH")[0].decode()
ok(c.uid("STORE", r2, "+FLAGS", r"(\Flagged)"), "STORE +FLAGS")
ok(c.uid("STORE", r0, "-FLAGS", r"(\Seen)"), "STORE -FLAGS")
ok(c.append(box, r"(\Seen)", None, b"From: Remote <remote@example.org>\r\nSubject: remote 3\r\nMessage-ID: <remote-3@mbsync.test>\r\n\r\nremote body 3\r\n"), "APPEND")
'
f=$(grep -l 'local body 1' "$MAILDIR/$BOX"/*/*) || fail "local message 1 is not in the Maildir"
mv "$f" "$MAILDIR/$BOX/cur/$(basename "${f%%:2,*}"):2,F"
printf 'From: Local <local@example.org>\nSubject: local 2\nMessage-ID: <local-2@mbsync.test>\n\nlocal body 2\n' \
    >"$MAILDIR/$BOX/new/1700000000.3_3.seed"

c2=$(sync second)
expect_counters second "$c2" "+1/1 *1/1 #0/0" "+1/1 *2/2 #0/0"
[ "$(remote_state | grep -c '^\[')" = 7 ] || fail "after the second sync moxd's $BOX does not hold 7 messages: $(remote_state)"
[ "$(remote_flags)" = "$(local_flags)" ] ||
    fail "after the second sync the flags differ: moxd: $(remote_flags | tr '\n' ';') Maildir: $(local_flags | tr '\n' ';')"
imap '
ok(c.select(box, readonly=True), "EXAMINE")
want = {"local-1": "\\Flagged", "remote-2": "\\Flagged"}
for mid, flag in want.items():
    uid = ok(c.uid("SEARCH", "HEADER", "Message-ID", mid + "@mbsync.test"), "SEARCH")[0].decode()
    flags = ok(c.uid("FETCH", uid, "(FLAGS)"), "FETCH")[0].decode()
    assert flag in flags, (mid, flags)
uid = ok(c.uid("SEARCH", "HEADER", "Message-ID", "remote-0@mbsync.test"), "SEARCH")[0].decode()
assert "\\Seen" not in ok(c.uid("FETCH", uid, "(FLAGS)"), "FETCH")[0].decode()
'
grep -q 'remote body 3' "$MAILDIR/$BOX"/*/*:2,S || fail "the new \\Seen moxd message is not in the Maildir as :2,S: $(local_state)"

# 3. Nothing left to do: no counter moves, nothing changes on either side.
remote_before=$(remote_state)
local_before=$(local_state)
c3=$(sync third)
expect_counters third "$c3" "+0/0 *0/0 #0/0" "+0/0 *0/0 #0/0"
remote_after=$(remote_state)
local_after=$(local_state)
[ "$remote_after" = "$remote_before" ] ||
    fail "the third sync changed moxd's mailbox: $(diff <(printf '%s\n' "$remote_before") <(printf '%s\n' "$remote_after") || true)"
[ "$local_after" = "$local_before" ] ||
    fail "the third sync changed the Maildir: $(diff <(printf '%s\n' "$local_before") <(printf '%s\n' "$local_after") || true)"

ls_stop
echo "mbsync ok: both ways (messages and flags), third run: $c3, nothing changed"
