#!/usr/bin/env bash
# Outbound delivery throughput: how fast moxd's queue worker empties a queue
# of MESSAGES (default 1,000) messages into a local discarding SMTP peer
# (Postfix's smtp-sink on 127.0.0.4:25, found through a private NSD on
# 127.0.0.2:53), and the peak RSS (VmHWM) of the queue worker. For a ratio,
# a private Postfix empties the same number of queued messages into the same
# smtp-sink in the same run. Run as root on an otherwise idle machine; see
# bench/README-queue.md. Not part of CI.
set -euo pipefail
shopt -s inherit_errexit

MESSAGES=${MESSAGES:-1000}
# Message body size in bytes (plus ~250 bytes of header).
SIZE=${SIZE:-4096}
# Seconds any one phase may take.
WAIT=${WAIT:-600}
DNS_IP=127.0.0.2
SINK_IP=127.0.0.4
PF_PORT=2526

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fail() { echo "queue-outbound: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (ports 25/53, the moxd worker user, a private Postfix)"
for t in nsd smtp-sink postfix postconf python3 openssl ss; do
    command -v "$t" >/dev/null || fail "missing $t (apt-get install nsd postfix python3 openssl iproute2)"
done
if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release --bin moxd --bin moxctl
fi
BIN=${CARGO_TARGET_DIR:-$root/target}/release
MOXD=$BIN/moxd
MOXCTL=$BIN/moxctl

WORK=$(mktemp -d /var/tmp/moxd-bench-queue.XXXXXX)
chmod 755 "$WORK"
MOXD_PID= NSD_PID= SINK_PID=
cleanup() {
    [ -n "$MOXD_PID" ] && { kill -TERM "$MOXD_PID" 2>/dev/null; wait "$MOXD_PID" 2>/dev/null || true; }
    timeout 30 postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1 || true
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
    [ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for ip_port in "$DNS_IP:53" "$SINK_IP:25"; do
    ss -H -lntu "src $ip_port" | grep -q . && fail "$ip_port is in use"
done

# --- DNS: sink.bench.test MX -> 127.0.0.4 ---------------------------------
mkdir -p "$WORK/nsd"
cat >"$WORK/nsd/bench.test.zone" <<'ZONE'
$ORIGIN bench.test.
$TTL 3600
@ IN SOA ns.bench.test. hostmaster.bench.test. (1 3600 600 86400 3600)
@ IN NS ns
ns IN A 127.0.0.2
sink IN MX 10 mx.sink
mx.sink IN A 127.0.0.4
ZONE
cat >"$WORK/nsd/nsd.conf" <<CONF
server:
  ip-address: $DNS_IP@53
  username: ""
  zonesdir: "$WORK/nsd"
  database: ""
  pidfile: "$WORK/nsd/nsd.pid"
  logfile: "$WORK/nsd/nsd.log"
  xfrdfile: "$WORK/nsd/xfrd.state"
  zonelistfile: "$WORK/nsd/zone.list"
remote-control:
  control-enable: no
zone:
  name: bench.test
  zonefile: bench.test.zone
CONF
nsd -d -c "$WORK/nsd/nsd.conf" >"$WORK/nsd/out" 2>&1 &
NSD_PID=$!

# --- the message -----------------------------------------------------------
python3 - "$SIZE" "$WORK/msg.eml" <<'PY'
import sys
size, out = int(sys.argv[1]), sys.argv[2]
line = ("0123456789abcdefghijklmnopqrstuvwxyz" * 2)[:70] + "\r\n"
body = (line * (size // len(line) + 1))[:size]
body = body[: body.rfind("\r\n") + 2]
hdr = ("From: <bench@example.org>\r\nTo: <sink@sink.bench.test>\r\nSubject: queue bench\r\n"
       "Message-ID: <queue-bench@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n")
open(out, "w", newline="").write(hdr + body)
PY

# submit N messages over SMTP (STARTTLS + AUTH when PASSWORD is given).
submit() { # submit PORT PASSWORD
    python3 - "$1" "$2" "$MESSAGES" "$WORK/msg.eml" <<'PY'
import smtplib, ssl, sys
port, password, n, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
msg = open(path, "rb").read()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
    s.ehlo("bench.client")
    if password:
        s.starttls(context=ctx); s.ehlo("bench.client")
        s.login("bench@example.org", password)
    for _ in range(n):
        s.sendmail("bench@example.org", ["sink@sink.bench.test"], msg)
PY
}

now() { date +%s.%N; }

# --- moxd: fill the queue while the sink is down ----------------------------
id moxd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
M=$WORK/moxd
mkdir -p "$M"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.moxd.bench.test \
    -keyout "$M/key.pem" -out "$M/cert.pem" 2>/dev/null
SUB=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
cat >"$M/moxd.toml" <<EOF
hostname = "mx.moxd.bench.test"
data_dir = "$M/data"
control_socket = "$M/ctl"
sandbox = "required"
log = "warn"
resolver = "$DNS_IP:53"
[queue]
retry_initial_secs = 36000
[tls]
cert = "$M/cert.pem"
key = "$M/key.pem"
[listeners]
ips = ["127.0.0.1"]
submission = $SUB
EOF
printf 'domains = ["example.org"]\n[[accounts]]\nname = "bench"\naddresses = ["bench@example.org"]\n' >"$M/domains.toml"
start_moxd() {
    : >"$M/log"
    "$MOXD" serve -c "$M/moxd.toml" >>"$M/log" 2>&1 &
    MOXD_PID=$!
    local t0=$SECONDS
    until "$MOXCTL" --socket "$M/ctl" status 2>/dev/null | grep -q "^queue .*running"; do
        kill -0 "$MOXD_PID" 2>/dev/null || fail "moxd exited: $(tail -5 "$M/log")"
        ((SECONDS - t0 < WAIT)) || fail "moxd not ready"
        sleep 0.1
    done
}
stop_moxd() {
    kill -TERM "$MOXD_PID"; wait "$MOXD_PID" || true; MOXD_PID=
}
start_moxd
echo "bench-password" | "$MOXCTL" --socket "$M/ctl" setaccountpassword bench >/dev/null
t0=$(now)
submit "$SUB" bench-password
t1=$(now)
echo "moxd: $MESSAGES messages submitted in $(python3 -c "print(f'{$t1-$t0:.2f}')") s (sink down: each attempt is refused and deferred by 10 h)"
# Wait until every message had its first (refused) attempt.
t00=$SECONDS
until [ "$(python3 - "$M/data/system.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(c.execute("SELECT COUNT(*) FROM queue_recipients WHERE attempts = 0").fetchone()[0])
PY
)" = 0 ]; do
    ((SECONDS - t00 < WAIT)) || fail "first attempts did not finish"
    sleep 0.5
done
stop_moxd
# Make every message due now (the store is stopped; give the files back to moxd).
python3 - "$M/data/system.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE queue_recipients SET next_attempt = 0")
c.execute("UPDATE queue SET next_attempt = 0")
c.commit()
c.close()
PY
chown -R moxd:moxd "$M/data"

smtp-sink -u nobody "$SINK_IP:25" 512 >"$WORK/sink.out" 2>&1 &
SINK_PID=$!
sleep 0.5

t0=$(now)
start_moxd
QPID=$("$MOXCTL" --socket "$M/ctl" status --json | python3 -c "import json,sys; print([w['pid'] for w in json.load(sys.stdin)['workers'] if w['role']=='Queue'][0])")
t00=$SECONDS
until [ -z "$("$MOXCTL" --socket "$M/ctl" queue list)" ]; do
    ((SECONDS - t00 < WAIT)) || fail "moxd queue not empty after ${WAIT}s"
    sleep 0.05
done
t1=$(now)
HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$QPID/status")
RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$QPID/status")
MOXD_SECS=$(python3 -c "print(f'{$t1-$t0:.3f}')")
MOXD_RATE=$(python3 -c "print(f'{$MESSAGES/($t1-$t0):.0f}')")
stop_moxd

# --- Postfix: the same through its queue ------------------------------------
P=$WORK/postfix
mkdir -p "$P/etc" "$P/spool" "$P/data"
chown postfix "$P/data"
cat >"$P/etc/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mx.postfix.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [$SINK_IP]:25
smtp_tls_security_level = none
default_process_limit = 200
default_destination_concurrency_limit = 20
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
queue_directory = $P/spool
data_directory = $P/data
maillog_file = $P/postfix.log
alias_maps =
alias_database =
defer_transports = smtp
EOF
cat >"$P/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
timeout 60 postfix -c "$P/etc" start >/dev/null 2>&1 || fail "postfix start"
t00=$SECONDS
until python3 -c "import socket; socket.create_connection(('127.0.0.1',$PF_PORT),1).close()" 2>/dev/null; do
    ((SECONDS - t00 < WAIT)) || fail "postfix not listening"; sleep 0.2
done
submit "$PF_PORT" ""
pf_queued() { find "$P/spool/deferred" "$P/spool/active" "$P/spool/incoming" "$P/spool/maildrop" -type f 2>/dev/null | wc -l; }
t00=$SECONDS
until [ "$(find "$P/spool/deferred" -type f | wc -l)" -ge "$MESSAGES" ]; do
    ((SECONDS - t00 < WAIT)) || fail "postfix did not defer all messages"; sleep 0.2
done
postconf -c "$P/etc" -e defer_transports=
t0=$(now)
postfix -c "$P/etc" reload >/dev/null 2>&1
postqueue -c "$P/etc" -f
t00=$SECONDS
until [ "$(pf_queued)" = 0 ]; do
    ((SECONDS - t00 < WAIT)) || fail "postfix queue not empty after ${WAIT}s"
    sleep 0.05
done
t1=$(now)
PF_SECS=$(python3 -c "print(f'{$t1-$t0:.3f}')")
PF_RATE=$(python3 -c "print(f'{$MESSAGES/($t1-$t0):.0f}')")

echo
echo "queue-outbound: $MESSAGES messages of $SIZE bytes to smtp-sink on $SINK_IP:25"
printf '  %-8s %8s s  %6s msg/s\n' moxd "$MOXD_SECS" "$MOXD_RATE" postfix "$PF_SECS" "$PF_RATE"
python3 -c "print(f'  moxd/postfix throughput ratio: {$MOXD_RATE/$PF_RATE:.2f}')"
echo "  moxd queue worker: peak RSS (VmHWM) ${HWM} kB, RSS at the end ${RSS} kB"
