#!/usr/bin/env bash
# DKIM interop with dkimpy (Debian python3-dkim). A private NSD on
# 127.0.0.9:53 serves the keys; moxd serve asks it (moxd.toml `resolver`).
# Incoming: messages signed by dkimpy's `dkimsign` (RSA and Ed25519,
# relaxed and simple canonicalization, a body ending in a whitespace-only
# line) are sent to moxd's smtp-in and must be stored with
# "dkim=pass header.d=sender.interop.test" in Authentication-Results; a
# tampered one with "dkim=fail". Outgoing: `moxctl dkim gen` makes moxd's
# keys, a message submitted through submission is stored signed twice
# (Ed25519 and RSA), and dkimpy's `dkimverify` must accept both
# signatures, and reject both once the body is changed. dkimverify reads
# DNS through /etc/resolv.conf, replaced in a private mount namespace only.
set -euo pipefail
shopt -s inherit_errexit

NAME=t_dkim_dkimpy
# The test DNS listens here (port 53: smtp-in's sandbox only reaches 53).
DNS_IP=127.0.0.9
# Seconds to wait for a server to start or a message to be stored.
WAIT=60
# Seconds the whole script may take (moxd's RSA key generation included).
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-300}

: "${MOXD_BIN:?MOXD_BIN must name the moxd binary (tests/interop/run sets it)}"
: "${MOXCTL_BIN:?MOXCTL_BIN must name the moxctl binary (tests/interop/run sets it)}"

fail() { echo "FAIL [$NAME]: $*" >&2; exit 1; }
note() { echo "[$NAME] $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (port 53 on $DNS_IP, a private mount namespace for dkimverify)"
for tp in nsd:nsd nsd-checkzone:nsd dkimsign:python3-dkim dkimverify:python3-dkim \
    dknewkey:python3-dkim openssl:openssl python3:python3 unshare:util-linux; do
    command -v "${tp%%:*}" >/dev/null ||
        fail "missing ${tp%%:*}: install the Debian package '${tp#*:}' (apt-get install ${tp#*:})"
done

WORK=$(mktemp -d "/tmp/moxd-interop-$NAME.XXXXXX")
chmod 755 "$WORK"
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
    [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null || true
    if [ "$rc" != 0 ]; then
        for f in "$MOX/moxd.log" "$NSD_DIR/nsd.log"; do
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

! ss -H -lnu "src $DNS_IP:53" 2>/dev/null | grep -q . || fail "$DNS_IP:53 (udp) is in use"

free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }

# --- moxd serve (first: its DKIM keys go into the zone) --------------------
id moxd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
mkdir -p "$MOX"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.interop.test \
    -addext subjectAltName=DNS:mail.interop.test \
    -keyout "$MOX/key.pem" -out "$MOX/cert.pem" 2>/dev/null || fail "openssl certificate"
SMTP=$(free_port)
SUBMISSION=$(free_port)
[ "$SMTP" != "$SUBMISSION" ] || SUBMISSION=$(free_port)
cat >"$MOX/moxd.toml" <<EOF
hostname = "mail.interop.test"
data_dir = "$MOX/data"
control_socket = "$MOX/ctl"
sandbox = "required"
resolver = "$DNS_IP:53"

[auth]
enabled = true

[tls]
cert = "$MOX/cert.pem"
key = "$MOX/key.pem"

[listeners]
ips = ["127.0.0.1"]
smtp = $SMTP
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
until grep -q "moxd ready" "$MOX/moxd.log" 2>/dev/null; do
    kill -0 "$MOXD_PID" 2>/dev/null || fail "moxd exited before ready"
    ((SECONDS - t0 < WAIT)) || fail "moxd not ready within ${WAIT}s"
    sleep 0.2
done
ctl() { timeout 120 "$MOXCTL_BIN" --socket "$MOX/ctl" "$@"; }
PASSWORD=interop-dkim-$$
echo "$PASSWORD" | ctl setaccountpassword alice >/dev/null || fail "setting alice's password"
ctl dkim gen example.org >"$WORK/moxd-dkim.txt" || fail "moxctl dkim gen"
[ "$(grep -c '_domainkey.example.org. TXT' "$WORK/moxd-dkim.txt")" = 2 ] ||
    fail "dkim gen printed: $(cat "$WORK/moxd-dkim.txt")"
ctl dns records example.org >"$WORK/records.txt" || fail "moxctl dns records"
note "moxd ready (smtp $SMTP, submission $SUBMISSION); its DKIM keys:"
cat "$WORK/moxd-dkim.txt"

# --- the sender's keys (dkimpy) and the zones ------------------------------
mkdir -p "$NSD_DIR"
(cd "$WORK" && dknewkey --ktype rsa dkrsa >/dev/null && dknewkey --ktype ed25519 dked >/dev/null) ||
    fail "dknewkey"
# dknewkey's .dns file is the record text; split it into 255-octet strings.
txt() { python3 -c "import sys; s=open(sys.argv[1]).read().strip(); print(' '.join('\"%s\"' % s[i:i+255] for i in range(0, len(s), 255)))" "$1"; }
# Whole top-level zones: DMARC's tree walk asks up to _dmarc.test and
# _dmarc.org, which must be NXDOMAIN, not REFUSED.
cat >"$NSD_DIR/test.zone" <<ZONE
\$ORIGIN test.
\$TTL 60
@ IN SOA ns.interop.test. hostmaster.interop.test. (1 3600 600 86400 60)
@ IN NS ns.interop
ns.interop IN A $DNS_IP
sender.interop IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc.sender.interop IN TXT "v=DMARC1; p=reject"
dkrsa._domainkey.sender.interop IN TXT $(txt "$WORK/dkrsa.dns")
dked._domainkey.sender.interop IN TXT $(txt "$WORK/dked.dns")
ZONE
{
    echo "\$ORIGIN org."
    echo "\$TTL 60"
    echo "@ IN SOA ns.interop.test. hostmaster.interop.test. (1 3600 600 86400 60)"
    echo "@ IN NS ns.interop.test."
    # Only the records inside example.org (moxctl prints absolute names).
    grep -E '^([^ ]+\.)?example\.org\. ' "$WORK/records.txt"
} >"$NSD_DIR/org.zone"
. "$(dirname "$0")/nsd.sh"
nsd_start "$NSD_DIR" "$DNS_IP" "$WAIT" sender.interop.test 16 test org || fail "NSD"
printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS_IP" >"$WORK/resolv.conf"
# Run a command with resolv.conf pointing at the test DNS (this process only).
with_test_dns() {
    unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$WORK/resolv.conf" "$@"
}
note "NSD serves test. and org. on $DNS_IP:53"

# The stored message of alice's Inbox whose Subject is $1, written to $2.
stored() {
    python3 - "$MOXCTL_BIN" "$MOX/ctl" "$1" "$2" "$WAIT" <<'PY'
import subprocess, sys, time
ctl, sock, subject, out, wait = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
def run(*a):
    return subprocess.run([ctl, "--socket", sock, *a], capture_output=True, check=True, timeout=60).stdout
t0 = time.time()
while time.time() - t0 < wait:
    for line in run("message", "list", "alice").decode().splitlines():
        mid = line.split("\t")[0]
        m = run("message", "get", "alice", mid)
        if f"\r\nSubject: {subject}\r\n".encode() in m or m.startswith(f"Subject: {subject}\r\n".encode()):
            open(out, "wb").write(m)
            sys.exit(0)
    time.sleep(0.3)
sys.exit(1)
PY
}

# smtp PORT FROM FILE [login]: send FILE's message to alice, over STARTTLS
# with AUTH when a login is given.
smtp() {
    python3 - "$1" "$2" "$3" "${4:-}" "$PASSWORD" <<'PY'
import smtplib, ssl, sys
port, mail_from, path, login, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
msg = open(path, "rb").read()
with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
    s.ehlo("client.interop.test")
    if login:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.interop.test")
        s.login(login, password)
    refused = s.sendmail(mail_from, ["alice@example.org"], msg)
    assert not refused, refused
PY
}

# --- incoming: dkimpy signs, moxd verifies ---------------------------------
n=0
for variant in "rsa-sha256 dkrsa relaxed relaxed" "rsa-sha256 dkrsa simple simple" \
    "ed25519-sha256 dked relaxed relaxed" "rsa-sha256 dkrsa relaxed simple"; do
    read -r alg sel hc bc <<<"$variant"
    n=$((n + 1))
    subject="in-$n-$alg-$hc-$bc-$$"
    printf 'From: Sender <someone@sender.interop.test>\r\nTo: <alice@example.org>\r\nSubject: %s\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@sender.interop.test>\r\n\r\nHello  from   dkimpy. \r\n\ttabbed line\t\r\n\r\nThe last line has only whitespace:\r\n  \t \r\n' \
        "$subject" "$subject" >"$WORK/$subject.eml"
    dkimsign --signalg "$alg" --hcanon "$hc" --bcanon "$bc" "$sel" sender.interop.test "$WORK/$sel.key" \
        <"$WORK/$subject.eml" >"$WORK/$subject.signed" || fail "dkimsign $variant"
    with_test_dns dkimverify <"$WORK/$subject.signed" >/dev/null || fail "dkimpy does not verify its own $variant signature"
    smtp "$SMTP" "bounce@sender.interop.test" "$WORK/$subject.signed" || fail "sending $subject to smtp-in"
    stored "$subject" "$WORK/$subject.stored" || fail "$subject not stored"
    ar=$(python3 -c "import sys; print(open(sys.argv[1],'rb').read().split(b'\r\nReceived:')[0].replace(b'\r\n\t', b' ').decode())" "$WORK/$subject.stored")
    grep -qF "dkim=pass header.d=sender.interop.test header.s=$sel header.a=$alg" <<<"$ar" ||
        fail "$variant: no dkim=pass in: $ar"
    grep -qF "dmarc=pass" <<<"$ar" || fail "$variant: no dmarc=pass in: $ar"
    note "dkimpy $variant signature: pass in moxd"
done
subject="in-tampered-$$"
printf 'From: <someone@sender.interop.test>\r\nTo: <alice@example.org>\r\nSubject: %s\r\n\r\nOriginal text.\r\n' "$subject" >"$WORK/t.eml"
dkimsign --hcanon relaxed --bcanon relaxed dkrsa sender.interop.test "$WORK/dkrsa.key" <"$WORK/t.eml" |
    sed 's/Original text/Changed text/' >"$WORK/t.signed"
smtp "$SMTP" "bounce@sender.interop.test" "$WORK/t.signed" || fail "sending the tampered message"
stored "$subject" "$WORK/t.stored" || fail "tampered message not stored"
grep -q "dkim=fail" "$WORK/t.stored" || fail "tampered message: no dkim=fail: $(head -c 800 "$WORK/t.stored")"
note "a tampered dkimpy signature: fail in moxd"

# --- outgoing: moxd signs, dkimpy verifies ---------------------------------
subject="out-$$"
printf 'From: Alice <alice@example.org>\r\nTo: <alice@example.org>\r\nSubject: %s\r\n\r\nSigned by moxd,  with   spaces \r\n\r\nand a whitespace-only last line:\r\n \t\r\n' \
    "$subject" >"$WORK/out.eml"
# Submission restarts after `dkim gen`; retry until it signs.
t0=$SECONDS
until smtp "$SUBMISSION" "alice@example.org" "$WORK/out.eml" alice@example.org 2>/dev/null; do
    ((SECONDS - t0 < WAIT)) || fail "submission did not accept the message"
    sleep 1
done
stored "$subject" "$WORK/out.stored" || fail "submitted message not stored"
[ "$(grep -c '^DKIM-Signature:' "$WORK/out.stored")" = 2 ] || fail "not signed twice: $(head -c 1500 "$WORK/out.stored")"
for i in 0 1; do
    with_test_dns dkimverify --index "$i" <"$WORK/out.stored" || fail "dkimverify rejects moxd's signature $i"
done
note "dkimverify accepts both of moxd's signatures (ed25519-sha256, rsa-sha256)"
sed 's/Signed by moxd/Signed by mallory/' "$WORK/out.stored" >"$WORK/out.tampered"
for i in 0 1; do
    if with_test_dns dkimverify --index "$i" <"$WORK/out.tampered" >/dev/null 2>&1; then
        fail "dkimverify accepts tampered signature $i"
    fi
done
note "dkimverify rejects both after the body changed"
note "ok"
