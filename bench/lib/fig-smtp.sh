# bench/run: the SMTP accept figures (1 and the SMTP half of 5). Sourced.
# Postfix's smtp-source (-d: sessions stay connected; 4 KiB messages, one
# recipient) drives moxd, Postfix and OpenSMTPD with the same load, in
# rounds that rotate the order of the three so that a change in the
# machine's other load does not favour one. Per round and server:
#   accepted msgs/s  = messages / smtp-source wall time
#   mailbox msgs/s   = messages / time until all are in the mailbox (moxd:
#                      the same, it answers 250 once the message is there)
#   CPU s / 1000     = CPU time of the server's whole process tree from the
#                      start of the round until all are in the mailbox
# Checks that every message arrived in the mailbox. The connections come
# from four loopback addresses (bench/lib/srcaddr.c), for all three.

# source_run PORT N SESSIONS: runs smtp-source, prints its wall seconds.
source_run() {
    local t0 t1
    t0=$(now)
    spread timeout "$RUN_TIMEOUT" smtp-source -d -s "$3" -m "$2" -l "$SIZE" \
        -f src@bench.test -t bench@bench.test -S "moxd bench" "127.0.0.1:$1" >/dev/null 2>"$W/source.err" ||
        die "smtp-source ($3 sessions) against port $1 failed: $(tail -n 5 "$W/source.err")"
    t1=$(now)
    secs "$t0" "$t1"
}

# smtp_round SYSTEM N SESSIONS: one measured round; prints
# "accept_rate mailbox_rate cpu_per_1000".
smtp_round() {
    local sys=$1 n=$2 c=$3 port root want c0 c1 t0 t1 acc done_secs
    case $sys in
    moxd) port=$MOXD_SMTP_PORT root=$MOXD_PID want=$(($(moxd_count bench) + n)) ;;
    postfix) port=$PF_PORT root=$PF_MASTER want=$(($(postfix_delivered) + n)) ;;
    opensmtpd) port=$OSMTPD_PORT root=$OSMTPD_PID want=$(($(opensmtpd_delivered) + n)) ;;
    esac
    settle
    c0=$(procstat ticks "$root")
    t0=$(now)
    acc=$(source_run "$port" "$n" "$c")
    case $sys in
    moxd) [ "$(moxd_count bench)" = "$want" ] || die "moxd holds $(moxd_count bench) messages, expected $want" ;;
    postfix) wait_until "$DRAIN_TIMEOUT" "Postfix to deliver" postfix_done "$want" ;;
    opensmtpd) wait_until "$DRAIN_TIMEOUT" "OpenSMTPD to deliver" opensmtpd_done "$want" ;;
    esac
    t1=$(now)
    c1=$(procstat ticks "$root")
    done_secs=$(secs "$t0" "$t1")
    [ "$sys" = moxd ] && done_secs=$acc
    "$PY" -c "import sys; n, a, d, t = map(float, sys.argv[1:5]); print(f'{n / a:.1f} {n / d:.1f} {t / $CLK_TCK * 1000 / n:.3f}')" \
        "$n" "$acc" "$done_secs" "$((c1 - c0))"
}

postfix_done() { [ "$(postfix_queued)" = 0 ] && [ "$(postfix_delivered)" -ge "$1" ]; }
opensmtpd_done() { [ "$(opensmtpd_queued)" = 0 ] && [ "$(opensmtpd_delivered)" -ge "$1" ]; }

# fig_smtp SESSIONS MESSAGES_PER_ROUND ROUNDS: the figure for one
# concurrency; records smtp_accept_cN, smtp_mailbox_cN and smtp_cpu_cN.
fig_smtp() {
    local c=$1 n=$2 rounds=$3 r i sys out a m p
    local -A acc mbox cpu
    local order=(moxd postfix opensmtpd)
    for ((r = 0; r < rounds; r++)); do
        for ((i = 0; i < 3; i++)); do
            sys=${order[$(((i + r) % 3))]}
            say "SMTP accept: $sys, round $((r + 1))/$rounds, $n messages, $c sessions"
            out=$(smtp_round "$sys" "$n" "$c")
            read -r a m p <<<"$out"
            acc[$sys]+=" $a" mbox[$sys]+=" $m" cpu[$sys]+=" $p"
            say "  $a msgs/s accepted, $m msgs/s in the mailbox, $p CPU s per 1000"
        done
    done
    for sys in "${order[@]}"; do
        # shellcheck disable=SC2086 # word splitting wanted: one value per round
        {
            record "smtp_accept_c$c" "$sys" ${acc[$sys]}
            record "smtp_mailbox_c$c" "$sys" ${mbox[$sys]}
            record "smtp_cpu_c$c" "$sys" ${cpu[$sys]}
        }
    done
}

# warm_up: a few hundred messages to each, not measured (first connections,
# file system and page cache).
smtp_warm_up() {
    local want
    want=$(($(postfix_delivered) + WARMUP))
    source_run "$MOXD_SMTP_PORT" "$WARMUP" 20 >/dev/null
    source_run "$PF_PORT" "$WARMUP" 20 >/dev/null
    wait_until "$DRAIN_TIMEOUT" "Postfix to deliver the warm-up" postfix_done "$want"
    want=$(($(opensmtpd_delivered) + WARMUP))
    source_run "$OSMTPD_PORT" "$WARMUP" 20 >/dev/null
    wait_until "$DRAIN_TIMEOUT" "OpenSMTPD to deliver the warm-up" opensmtpd_done "$want"
}
