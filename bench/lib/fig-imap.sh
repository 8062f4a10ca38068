# bench/run: the IMAP figures (3 and the IMAP half of 5). Sourced.
# Both servers over implicit TLS with the same certificate, users
# bench1..bench$IMAPTEST_USERS@bench.test for imaptest and
# big<N>@bench.test holding N messages ($IMAP_SIZE body bytes) for each N
# in $IMAP_SIZES.
#  - imaptest (Dovecot's IMAP stress tool, built from tests/interop/imaptest/):
#    $IMAPTEST_CLIENTS clients for $IMAPTEST_SECS s, its default profile
#    (random LOGIN/SELECT/FETCH/STORE/APPEND/EXPUNGE/LOGOUT mix with state
#    checking, messages from a generated mbox) and the same with logout=0
#    (clients stay logged in); $IMAPTEST_ROUNDS runs per profile alternating
#    the servers; figure: commands/s (all commands imaptest counted / secs).
#  - bench/lib/imapprobe.py on each big mailbox: SELECT INBOX, UID FETCH 1:*
#    (FLAGS), UID SEARCH TEXT of a word no message holds (reads them all),
#    after one unmeasured round that lets each server build its index.
# moxd's mailboxes are filled over SMTP (smtp-source, the messages go
# through smtp-in and the store like any mail); Dovecot's are written
# straight into its Maildir by bench/lib/maildirfill.py with the same shape.

IMAP_NEEDLE=zebra-needle-nowhere

imap_users() {
    local i
    for ((i = 1; i <= IMAPTEST_USERS; i++)); do echo "bench$i"; done
}
big_users() {
    local n
    for n in $IMAP_SIZES; do echo "big$n"; done
}

# imap_fill: the big mailboxes of both servers.
imap_fill() {
    local n t0
    for n in $IMAP_SIZES; do
        if [ "$MOXD_IMAP" = 1 ]; then
            say "filling moxd's big$n@bench.test with $n messages over SMTP"
            t0=$(now)
            spread timeout "$RUN_TIMEOUT" smtp-source -d -s "$FILL_SESSIONS" -m "$n" -l "$IMAP_SIZE" -f src@bench.test \
                -t "big$n@bench.test" -S "moxd bench" "127.0.0.1:$MOXD_SMTP_PORT" >/dev/null 2>"$W/source.err" ||
                die "filling moxd's big$n failed: $(tail -n 5 "$W/source.err")"
            [ "$(moxd_count "big$n")" = "$n" ] || die "moxd's big$n holds $(moxd_count "big$n") messages, expected $n"
            say "  $(rate "$n" "$(secs "$t0" "$(now)")") msgs/s"
        fi
        say "filling Dovecot's big$n@bench.test with $n messages (Maildir files)"
        dovecot_fill "big$n@bench.test" "$n"
    done
}

# imaptest_mbox: the messages imaptest APPENDs (as ../shared/tools/imaptest-bench.sh).
imaptest_mbox() {
    "$PY" - "$W/imaptest.mbox" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w", newline="") as f:
    for i in range(500):
        body = "\r\n".join("line %d %s" % (j, "x" * random.randint(10, 70)) for j in range(random.randint(5, 200)))
        f.write("From sender%d@bench.test Thu Nov 26 10:00:00 2026\n" % i)
        f.write("From: Sender %d <sender%d@bench.test>\r\nTo: bench@bench.test\r\n"
                "Subject: test message %d\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
                "Message-ID: <%d@bench.test>\r\n\r\n%s\r\n\n" % (i, i, i, i, body))
PY
}

# imaptest_run PORT PROFILE OUT: one imaptest run; prints commands/s.
imaptest_run() {
    local extra=()
    [ "$2" = logout0 ] && extra=(logout=0)
    spread timeout $((IMAPTEST_SECS + 60)) imaptest host=127.0.0.1 port="$1" ssl=any-cert \
        user='bench%d@bench.test' users="$IMAPTEST_USERS" pass="$IMAP_PASS" mbox="$W/imaptest.mbox" \
        clients="$IMAPTEST_CLIENTS" secs="$IMAPTEST_SECS" "${extra[@]}" >"$3" 2>&1 ||
        die "imaptest against port $1 failed: $(tail -n 5 "$3")"
    "$PY" - "$3" "$IMAPTEST_SECS" <<'PY'
import sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
if "Totals:" not in lines:
    sys.exit("imaptest printed no totals")
for line in lines[lines.index("Totals:") + 1:]:
    f = line.split()
    if f and all(x.isdigit() for x in f):
        print(f"{sum(map(int, f)) / float(sys.argv[2]):.1f}")
        break
else:
    sys.exit("imaptest totals not found")
PY
}

# imaptest_errors OUT: lines imaptest reported as errors.
imaptest_errors() { grep -c '^Error' "$1" || true; }

fig_imaptest() {
    local profile r sys port out v errs order
    local -A vals
    imaptest_mbox
    for profile in default logout0; do
        for ((r = 0; r < IMAPTEST_ROUNDS; r++)); do
            order=(moxd dovecot)
            ((r % 2 == 0)) || order=(dovecot moxd)
            for sys in "${order[@]}"; do
                [ "$sys" = moxd ] && [ "$MOXD_IMAP" != 1 ] && continue
                port=$DOVECOT_PORT
                [ "$sys" = moxd ] && port=$MOXD_IMAPS_PORT
                out=$W/imaptest-$sys-$profile-$r.out
                say "imaptest $profile: $sys, round $((r + 1))/$IMAPTEST_ROUNDS, $IMAPTEST_CLIENTS clients, ${IMAPTEST_SECS}s"
                v=$(imaptest_run "$port" "$profile" "$out")
                errs=$(imaptest_errors "$out")
                vals[$sys-$profile]+=" $v"
                say "  $v commands/s, $errs errors"
                [ "$errs" = 0 ] || record_note "imaptest $profile against $sys: $errs errors (first: $(grep -m 1 '^Error' "$out" | cut -c1-160))"
            done
        done
        # shellcheck disable=SC2086 # one value per run
        {
            record "imaptest_$profile" moxd ${vals[moxd-$profile]:-}
            record "imaptest_$profile" dovecot ${vals[dovecot-$profile]:-}
        }
    done
}

# fig_imap_probe: SELECT / FETCH / SEARCH on every big mailbox.
fig_imap_probe() {
    local n sys port searches json
    for n in $IMAP_SIZES; do
        searches=$PROBE_REPEATS
        [ "$n" -ge 50000 ] && searches=$SEARCH_REPEATS_LARGE
        for sys in dovecot moxd; do
            [ "$sys" = moxd ] && [ "$MOXD_IMAP" != 1 ] && {
                record "imap_select_$n" moxd
                record "imap_fetch_$n" moxd
                record "imap_search_$n" moxd
                continue
            }
            port=$DOVECOT_PORT
            [ "$sys" = moxd ] && port=$MOXD_IMAPS_PORT
            say "IMAP on $n messages: $sys, 1 warm-up + $PROBE_REPEATS rounds ($searches with SEARCH)"
            json=$(timeout "$RUN_TIMEOUT" "$PY" "$BENCH/lib/imapprobe.py" 127.0.0.1 "$port" "big$n@bench.test" \
                "$IMAP_PASS" "$n" "$PROBE_REPEATS" 1 "$searches" "$IMAP_NEEDLE") ||
                die "IMAP probe of $sys on $n messages failed"
            say "  $json"
            # shellcheck disable=SC2046 # one value per round
            {
                record "imap_select_$n" "$sys" $(json_list "$json" select_ms)
                record "imap_fetch_$n" "$sys" $(json_list "$json" fetch_ms)
                record "imap_search_$n" "$sys" $(json_list "$json" search_ms)
            }
        done
    done
}

# json_list JSON KEY: the numbers of a list in a JSON object, space-separated.
json_list() { "$PY" -c 'import json, sys; print(" ".join(map(str, json.loads(sys.argv[1])[sys.argv[2]])))' "$1" "$2"; }
