#!/usr/bin/env bash
# Outbound delivery to Postfix: moxd's queue worker looks up the MX of
# pf.interop.test at a private NSD on 127.0.0.2:53 (moxd.toml `resolver`),
# connects to a private Postfix on 127.0.0.3:25 (STARTTLS with a self-signed
# certificate, so moxd records "certificate not verified" and delivers
# anyway), and Postfix's virtual delivery writes the message into a Maildir.
# The message in the Maildir must end with exactly what was submitted (in
# the Maildir's LF line ends), and a recipient Postfix refuses (550 5.1.1)
# must come back as an RFC 3464 DSN in the sender's Inbox. Everything runs
# under this script's work directory; nothing of the system's Postfix or
# resolver is touched.
set -euo pipefail
shopt -s inherit_errexit

NAME=t_queue_postfix
# Where the test DNS and the Postfix listen (port 53 and 25: the queue's
# sandbox only connects to those).
DNS_IP=127.0.0.2
PF_IP=127.0.0.3
# Seconds to wait for a server to start, a delivery or a DSN.
WAIT=60
# Seconds the whole script may take.
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-300}

: "${MOXD_BIN:?MOXD_BIN must name the moxd binary (tests/interop/run sets it)}"
: "${MOXCTL_BIN:?MOXCTL_BIN must name the moxctl binary (tests/interop/run sets it)}"

fail() { echo "FAIL [$NAME]: $*" >&2; exit 1; }
note() { echo "[$NAME] $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (ports 25 and 53 on $PF_IP/$DNS_IP, a private Postfix)"
for t in nsd postfix postconf openssl python3; do
    command -v "$t" >/dev/null || fail "missing $t (tests/interop/run names its Debian package)"
done

WORK=$(mktemp -d "/tmp/moxd-interop-$NAME.XXXXXX")
chmod 755 "$WORK"
PF=$WORK/postfix
NSD_DIR=$WORK/nsd
MOX=$WORK/moxd
MOXD_PID=
NSD_PID=

cleanup() {
    local rc=$?
    trap - EXIT TERM INT
    [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null || true
    if [ -n "$MOXD_PID" ]; then
        kill -TERM "$MOXD_PID" 2>/dev/null || true
        local t0=$SECONDS
        while kill -0 "$MOXD_PID" 2>/dev/null && ((SECONDS - t0 < WAIT)); do sleep 0.2; done
        kill -KILL "$MOXD_PID" 2>/dev/null || true
    fi
    timeout 30 postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
    [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null || true
    if [ "$rc" != 0 ]; then
        for f in "$MOX/moxd.log" "$PF/postfix.log" "$NSD_DIR/nsd.log"; do
            [ -f "$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; }
        done
        echo "[$NAME] work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
( sleep "$SCRIPT_TIMEOUT"; echo "[$NAME] timed out after ${SCRIPT_TIMEOUT}s" >&2; kill -TERM $$ ) &
WATCHDOG=$!

port_free() { # port_free IP PORT PROTO(-t|-u)
    ! ss -H -ln "$3" "src $1:$2" 2>/dev/null | grep -q .
}
port_free "$DNS_IP" 53 -u || fail "$DNS_IP:53 (udp) is in use"
port_free "$PF_IP" 25 -t || fail "$PF_IP:25 is in use"

# --- DNS: NSD serving interop.test ----------------------------------------
mkdir -p "$NSD_DIR"
cat >"$NSD_DIR/interop.test.zone" <<'ZONE'
$ORIGIN interop.test.
$TTL 60
@ IN SOA ns.interop.test. hostmaster.interop.test. (1 3600 600 86400 60)
@ IN NS ns
ns IN A 127.0.0.2
pf IN MX 10 mx.pf
mx.pf IN A 127.0.0.3
ZONE
. "$(dirname "$0")/nsd.sh"
nsd_start "$NSD_DIR" "$DNS_IP" "$WAIT" pf.interop.test 15 interop.test || fail "NSD"
note "NSD serves interop.test on $DNS_IP:53"

# --- Postfix on 127.0.0.3:25, virtual Maildir delivery --------------------
mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/mail"
chown postfix "$PF/data"
chown nobody:nogroup "$PF/mail"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.pf.interop.test \
    -addext subjectAltName=DNS:mx.pf.interop.test \
    -keyout "$PF/etc/key.pem" -out "$PF/etc/cert.pem" 2>/dev/null || fail "openssl certificate"
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mx.pf.interop.test
mydomain = pf.interop.test
mydestination =
# Postfix wants inet_interfaces to be addresses of an interface; the
# service below binds $PF_IP:25 explicitly.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
virtual_mailbox_domains = pf.interop.test
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = inline:{ bob@pf.interop.test=bob/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PF/etc/cert.pem
smtpd_tls_key_file = $PF/etc/key.pem
smtpd_tls_loglevel = 1
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP
message_size_limit = 52428800
virtual_mailbox_limit = 0
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
alias_maps =
alias_database =
biff = no
EOF
. "$(dirname "$0")/postfix.sh"
postfix_master_cf "$PF/etc/master.cf" "$PF_IP:25" "virtual   unix  - n n -  - virtual"
timeout 60 postfix -c "$PF/etc" check >/dev/null 2>&1 || true
timeout 60 postfix -c "$PF/etc" start >/dev/null 2>&1 || fail "postfix start (see $PF/postfix.log)"
t0=$SECONDS
until python3 -c "import socket,sys; socket.create_connection(('$PF_IP',25),1).close()" 2>/dev/null; do
    ((SECONDS - t0 < WAIT)) || fail "Postfix does not listen on $PF_IP:25"
    sleep 0.2
done
note "Postfix listens on $PF_IP:25"

# --- moxd serve ----------------------------------------------------------
id moxd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
mkdir -p "$MOX"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.interop.test \
    -addext subjectAltName=DNS:mail.interop.test \
    -keyout "$MOX/key.pem" -out "$MOX/cert.pem" 2>/dev/null || fail "openssl certificate"
SUBMISSION=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
cat >"$MOX/moxd.toml" <<EOF
hostname = "mail.interop.test"
data_dir = "$MOX/data"
control_socket = "$MOX/ctl"
sandbox = "required"
resolver = "$DNS_IP:53"

[queue]
retry_initial_secs = 2
timeout_limit_secs = 30

[tls]
cert = "$MOX/cert.pem"
key = "$MOX/key.pem"

[listeners]
ips = ["127.0.0.1"]
submission = $SUBMISSION
EOF
cat >"$MOX/domains.toml" <<EOF
domains = ["example.org"]
[[accounts]]
name = "alice"
addresses = ["alice@example.org"]
EOF
"$MOXD_BIN" serve -c "$MOX/moxd.toml" >"$MOX/moxd.log" 2>&1 &
MOXD_PID=$!
t0=$SECONDS
until grep -q "moxd ready" "$MOX/moxd.log"; do
    kill -0 "$MOXD_PID" 2>/dev/null || fail "moxd exited before ready"
    ((SECONDS - t0 < WAIT)) || fail "moxd not ready within ${WAIT}s"
    sleep 0.2
done
ctl() { timeout 30 "$MOXCTL_BIN" --socket "$MOX/ctl" "$@"; }
PASSWORD=interop-queue-$$
echo "$PASSWORD" | ctl setaccountpassword alice >/dev/null || fail "setting alice's password"
ctl status | grep -q "^queue .*running" || fail "no running queue worker: $(ctl status)"
note "moxd ready (submission 127.0.0.1:$SUBMISSION, queue resolver $DNS_IP:53)"

# --- submit, then check Postfix's Maildir and the DSN ----------------------
TAG=queue-interop-$$
python3 - "$SUBMISSION" "$PASSWORD" "$TAG" "$WORK/sent.eml" <<'PY' || fail "submission"
import smtplib, ssl, sys
port, password, tag, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
msg = (
    f"From: <alice@example.org>\r\nTo: <bob@pf.interop.test>\r\nSubject: {tag}\r\n"
    f"Message-ID: <{tag}@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
    f"Hello {tag}.\r\n.a line with a leading dot\r\n..and two\r\n.\r\n"
    "trailing spaces   \r\ntab\tseparated\r\n" + "x" * 900 + "\r\nlast line\r\n"
).encode()
open(out, "wb").write(msg)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.ehlo("client.interop.test")
    s.starttls(context=ctx)
    s.ehlo("client.interop.test")
    s.login("alice@example.org", password)
    refused = s.sendmail("alice@example.org", ["bob@pf.interop.test"], msg)
    assert not refused, refused
    bounce = f"From: <alice@example.org>\r\nTo: <nobody@pf.interop.test>\r\nSubject: {tag}-bounce\r\n\r\nnobody\r\n"
    s.sendmail("alice@example.org", ["nobody@pf.interop.test"], bounce.encode())
PY
note "submitted $TAG"

t0=$SECONDS
until compgen -G "$PF/mail/bob/new/*" >/dev/null; do
    ((SECONDS - t0 < WAIT)) || fail "nothing in Postfix's Maildir after ${WAIT}s; moxctl queue list: $(ctl queue list)"
    sleep 0.3
done
python3 - "$WORK/sent.eml" "$PF/mail/bob/new" <<'PY' || fail "Maildir copy differs"
import os, sys
sent = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
files = os.listdir(sys.argv[2])
assert len(files) == 1, files
got = open(os.path.join(sys.argv[2], files[0]), "rb").read()
assert got.endswith(sent), "the delivered message does not end with the submitted one:\n" + got.decode(errors="replace")
head = got[: len(got) - len(sent)].decode(errors="replace")
assert "by mail.interop.test" in head, head  # moxd's Received from submission
assert "mx.pf.interop.test" in head, head     # Postfix's own Received
print("[t_queue_postfix] Maildir copy ends with the submitted message, byte for byte (LF line ends)")
PY
t0=$SECONDS
until grep -q "delivered.*mta=mx.pf.interop.test.*certificate not verified" "$MOX/moxd.log"; do
    ((SECONDS - t0 < WAIT)) || fail "moxd did not record an unverified STARTTLS delivery to mx.pf.interop.test"
    sleep 0.2
done
note "STARTTLS used, certificate recorded as not verified"

t0=$SECONDS
DSN=
until [ -n "$DSN" ]; do
    for id in $(ctl message list alice | cut -f1); do
        m=$(ctl message get alice "$id")
        if grep -q "multipart/report" <<<"$m" && grep -q "nobody@pf.interop.test" <<<"$m"; then
            DSN=$m
        fi
    done
    [ -n "$DSN" ] && break
    ((SECONDS - t0 < WAIT)) || fail "no DSN for nobody@pf.interop.test in alice's Inbox"
    sleep 0.5
done
grep -q "report-type=delivery-status" <<<"$DSN" || fail "DSN is not a delivery-status report"
grep -q "Action: failed" <<<"$DSN" || fail "DSN without Action: failed"
grep -q "Status: 5.1.1" <<<"$DSN" || fail "DSN without Status: 5.1.1"
grep -q "Remote-MTA: dns; mx.pf.interop.test" <<<"$DSN" || fail "DSN without Remote-MTA"
note "Postfix's 550 came back as a DSN"

t0=$SECONDS
until [ -z "$(ctl queue list)" ]; do
    ((SECONDS - t0 < WAIT)) || fail "queue not empty: $(ctl queue list)"
    sleep 0.3
done
note "queue empty; ok"
