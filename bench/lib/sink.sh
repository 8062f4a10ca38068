# bench/run: the outbound delivery target. Sourced.
# A private NSD on $DNS_IP:53 serves sink.bench.test MX 10 mx.sink.bench.test,
# mx.sink.bench.test A $SINK_IP (moxd's queue looks the MX up like on the
# Internet; Postfix relays to [$SINK_IP]:25 without DNS). Postfix's smtp-sink
# on $SINK_IP:25 accepts and discards everything (no disk I/O; 11-15k
# messages/s on a 2-CPU machine, far above what the queues deliver) and
# counts the messages it received.

SK=$W/sink
NSD_PID=
SINK_PID=

sink_start() {
    local ip_port
    for ip_port in "$DNS_IP:53" "$SINK_IP:25"; do
        ss -H -lntu "src $ip_port" | grep -q . && die "$ip_port is in use"
    done
    mkdir -p "$SK"
    cat >"$SK/bench.test.zone" <<ZONE
\$ORIGIN bench.test.
\$TTL 3600
@ IN SOA ns.bench.test. hostmaster.bench.test. (1 3600 600 86400 3600)
@ IN NS ns
ns IN A $DNS_IP
sink IN MX 10 mx.sink
mx.sink IN A $SINK_IP
ZONE
    cat >"$SK/nsd.conf" <<CONF
server:
  ip-address: $DNS_IP@53
  username: ""
  zonesdir: "$SK"
  database: ""
  pidfile: "$SK/nsd.pid"
  logfile: "$SK/nsd.log"
  xfrdfile: "$SK/xfrd.state"
  zonelistfile: "$SK/zone.list"
remote-control:
  control-enable: no
zone:
  name: bench.test
  zonefile: bench.test.zone
CONF
    nsd -d -c "$SK/nsd.conf" >"$SK/nsd.out" 2>&1 &
    NSD_PID=$!
    on_exit "stop_pid $NSD_PID"
    # smtp-sink -c prints "sess=N quit=N mesg=N" after every event.
    smtp-sink -c -u nobody "$SINK_IP:25" 512 >"$SK/count" 2>"$SK/err" &
    SINK_PID=$!
    on_exit "stop_pid $SINK_PID"
    wait_port "$SINK_IP" 25 smtp-sink "$SINK_PID"
    wait_until "$START_TIMEOUT" "NSD on $DNS_IP:53" dns_answers
}

dns_answers() {
    "$PY" - "$DNS_IP" <<'PY' >/dev/null 2>&1
import socket, sys
# A minimal DNS query (RFC 1035 §4.1) for sink.bench.test MX.
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04sink\x05bench\x04test\x00\x00\x0f\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(q, (sys.argv[1], 53))
r = s.recv(512)
sys.exit(0 if r[:2] == b"\x12\x34" and r[7] > 0 else 1)
PY
}

# sink_count: messages smtp-sink has received so far.
sink_count() {
    tr '\r' '\n' <"$SK/count" | awk -F'mesg=' 'NF > 1 { n = $2 } END { print n + 0 }'
}
