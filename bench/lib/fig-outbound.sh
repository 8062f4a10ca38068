# bench/run: figure 2, submission -> queue -> smtp-sink. Sourced.
# OUT_MESSAGES messages of $SIZE bytes in OUT_SESSIONS parallel sessions
# (STARTTLS; AUTH PLAIN for moxd's submission port, Postfix relays for
# 127.0.0.0/8 without AUTH) to sink@sink.bench.test, in rounds alternating
# moxd and Postfix. The rate is messages / time from the first connection
# until smtp-sink has received them all, so it covers submission, the
# durable queueing, and delivery by the queue (moxd's queue worker: MX
# lookup at the bench NSD, up to 20 connections per host; Postfix's qmgr +
# smtp(8), `default_destination_concurrency_limit = 20`). Also the CPU
# time of each server's process tree per 1000 messages.

outbound_done() { [ "$(sink_count)" -ge "$1" ]; }

# outbound_round SYSTEM: prints "rate cpu_per_1000".
outbound_round() {
    local sys=$1 want c0 c1 t0 t1 root
    settle
    want=$(($(sink_count) + OUT_MESSAGES))
    case $sys in
    moxd) root=$MOXD_PID ;;
    postfix) root=$PF_MASTER ;;
    esac
    c0=$(procstat ticks "$root")
    t0=$(now)
    case $sys in
    moxd)
        "$PY" "$BENCH/lib/submit.py" "$MOXD_SUB_PORT" "$OUT_MESSAGES" "$OUT_SESSIONS" "$SIZE" \
            sink@sink.bench.test bench@bench.test "$IMAP_PASS" || die "submission to moxd failed"
        ;;
    postfix)
        "$PY" "$BENCH/lib/submit.py" "$PF_SUB_PORT" "$OUT_MESSAGES" "$OUT_SESSIONS" "$SIZE" \
            sink@sink.bench.test || die "submission to Postfix failed"
        ;;
    esac
    wait_until "$DRAIN_TIMEOUT" "$sys to deliver $OUT_MESSAGES messages to smtp-sink" outbound_done "$want"
    t1=$(now)
    c1=$(procstat ticks "$root")
    case $sys in
    moxd) [ -z "$(mctl queue list)" ] || die "moxd's queue is not empty after smtp-sink received everything" ;;
    postfix) wait_until 30 "Postfix's queue to empty" postfix_queue_empty ;;
    esac
    "$PY" -c "import sys; n, d, t = map(float, sys.argv[1:4]); print(f'{n / d:.1f} {t / $CLK_TCK * 1000 / n:.3f}')" \
        "$OUT_MESSAGES" "$(secs "$t0" "$t1")" "$((c1 - c0))"
}

postfix_queue_empty() { [ "$(postfix_queued)" = 0 ]; }

fig_outbound() {
    local r sys out rate cpu
    local -A rates cpus
    local order=(moxd postfix)
    for ((r = 0; r < OUT_ROUNDS; r++)); do
        for sys in "${order[@]:r%2}" "${order[@]:0:r%2}"; do
            say "submission -> queue -> smtp-sink: $sys, round $((r + 1))/$OUT_ROUNDS, $OUT_MESSAGES messages, $OUT_SESSIONS sessions"
            out=$(outbound_round "$sys")
            read -r rate cpu <<<"$out"
            rates[$sys]+=" $rate" cpus[$sys]+=" $cpu"
            say "  $rate msgs/s, $cpu CPU s per 1000"
        done
    done
    for sys in "${order[@]}"; do
        # shellcheck disable=SC2086 # one value per round
        {
            record outbound "$sys" ${rates[$sys]}
            record outbound_cpu "$sys" ${cpus[$sys]}
        }
    done
}
