# bench/run: the outbound delivery target. Sourced.
# A private NSD on $DNS_IP:53 serves sink.bench.test MX 10 mx.sink.bench.test,
# mx.sink.bench.test A $SINK_IP (moxd's queue looks the MX up like on the
# Internet; Postfix relays to [$SINK_IP]:25 without DNS). Postfix's smtp-sink
# on $SINK_IP:25 accepts and discards everything (no disk I/O; 11-15k
# messages/s on a 2-CPU machine, far above what the queues deliver) and
# counts the messages it received.

SK=$W/sink
# shellcheck source=../../tests/interop/nsd.sh
. "$ROOT/tests/interop/nsd.sh"
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
    nsd_start "$SK" "$DNS_IP" "$START_TIMEOUT" sink.bench.test 15 bench.test || die "NSD on $DNS_IP:53 did not start"
    on_exit "stop_pid $NSD_PID"
    # smtp-sink -c prints "sess=N quit=N mesg=N" after every event.
    smtp-sink -c -u nobody "$SINK_IP:25" 512 >"$SK/count" 2>"$SK/err" &
    SINK_PID=$!
    on_exit "stop_pid $SINK_PID"
    wait_port "$SINK_IP" 25 smtp-sink "$SINK_PID"
}

# sink_count: messages smtp-sink has received so far.
sink_count() {
    tr '\r' '\n' <"$SK/count" | awk -F'mesg=' 'NF > 1 { n = $2 } END { print n + 0 }'
}
