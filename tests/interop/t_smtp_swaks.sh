#!/usr/bin/env bash
# swaks against localserve: AUTH PLAIN over STARTTLS on submission (1587)
# and a plain delivery to smtp-in (1025). Both messages must be in the store
# byte for byte as swaks sent them (dot-stuffed lines unstuffed), with a
# Received field naming the right protocol (RFC 3848); a wrong password
# must get 535 and store nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Seconds swaks may wait for any one reply.
SWAKS_TIMEOUT=20

# swaks ARGS...: bounded, never reading the terminal, transcript to $WORK.
run_swaks() {
    local name=$1
    shift
    timeout 60 swaks --timeout "$SWAKS_TIMEOUT" "$@" </dev/null >"$WORK/$name.out" 2>&1
}

# swaks sends the --data file with CRLF line ends, dot-stuffs lines that
# start with ".", and ends it with CRLF "." CRLF; a file that does not end
# in a line break is therefore stored as the file plus CRLF.
# (No "%", no backslash and no leading "From " line: swaks would rewrite those.)
printf '%s\r\n' \
    'From: Mox <mox@localhost>' \
    'To: Someone <someone@example.com>' \
    'Subject: interop swaks submission' \
    'Message-ID: <swaks-submission@interop.test>' \
    'Date: Thu, 26 Nov 2026 12:00:00 +0000' \
    'MIME-Version: 1.0' \
    'Content-Type: text/plain; charset=us-ascii' \
    '' \
    'First line of the submitted body.' \
    '.a line that starts with a dot' \
    '.' \
    '..two dots' \
    'trailing spaces   ' \
    '	a tab-indented line' \
    '' \
    '' >"$WORK/submission.eml"
printf 'last line, no line break' >>"$WORK/submission.eml"
{ cat "$WORK/submission.eml"; printf '\r\n'; } >"$WORK/submission.expected"

printf '%s\r\n' \
    'From: Sender <sender@example.org>' \
    'To: Anyone <anyone@localhost>' \
    'Subject: interop swaks smtp-in' \
    'Message-ID: <swaks-smtpin@interop.test>' \
    'Date: Thu, 26 Nov 2026 12:00:01 +0000' \
    '' \
    'Body delivered to smtp-in.' \
    '.' \
    'end' >"$WORK/smtpin.eml"
printf 'x' >>"$WORK/smtpin.eml"
{ cat "$WORK/smtpin.eml"; printf '\r\n'; } >"$WORK/smtpin.expected"

ls_start

# 1. Submission: STARTTLS, then AUTH PLAIN.
before=$(msg_ids)
run_swaks submission --server 127.0.0.1 --port 1587 --tls \
    --auth PLAIN --auth-user mox@localhost --auth-password moxmoxmox \
    --from mox@localhost --to someone@example.com \
    --data "$WORK/submission.eml" ||
    fail "swaks via submission (STARTTLS + AUTH PLAIN) failed: $(tail -n 5 "$WORK/submission.out")"
grep -q '^=== TLS started' "$WORK/submission.out" || fail "swaks did not start TLS on 1587: $(head -n 20 "$WORK/submission.out")"
grep -Eq '^<~ +235 ' "$WORK/submission.out" || fail "swaks saw no 235 to AUTH PLAIN (over TLS)"
# Remote recipients are queued; localserve's queue delivers them back to
# the mox account, so the copy appears shortly after the 250.
id=$(wait_new_id "$before" 30)
msg_get "$id" "$WORK/submission.stored-raw" --raw
same_bytes "submission message $id" "$WORK/submission.expected" "$WORK/submission.stored-raw"
msg_get "$id" "$WORK/submission.stored"
prefix_of "$WORK/submission.stored" "$WORK/submission.stored-raw" >"$WORK/submission.prefix"
grep -q '^Received: ' "$WORK/submission.prefix" || fail "submission message $id: no Received field in what moxd added"
grep -q 'with ESMTPSA ' "$WORK/submission.prefix" ||
    fail "submission message $id: Received does not say ESMTPSA (TLS + AUTH, RFC 3848): $(cat "$WORK/submission.prefix")"
note "submission: message $id stored byte-identical ($(wc -c <"$WORK/submission.expected") bytes)"

# 2. smtp-in: no TLS, no AUTH.
before=$(msg_ids)
run_swaks smtpin --server 127.0.0.1 --port 1025 \
    --from sender@example.org --to anyone@localhost \
    --data "$WORK/smtpin.eml" ||
    fail "swaks to smtp-in failed: $(tail -n 5 "$WORK/smtpin.out")"
id=$(new_id "$before")
msg_get "$id" "$WORK/smtpin.stored-raw" --raw
same_bytes "smtp-in message $id" "$WORK/smtpin.expected" "$WORK/smtpin.stored-raw"
msg_get "$id" "$WORK/smtpin.stored"
prefix_of "$WORK/smtpin.stored" "$WORK/smtpin.stored-raw" >"$WORK/smtpin.prefix"
grep -q 'with ESMTP ' "$WORK/smtpin.prefix" ||
    fail "smtp-in message $id: Received does not say ESMTP: $(cat "$WORK/smtpin.prefix")"
note "smtp-in: message $id stored byte-identical ($(wc -c <"$WORK/smtpin.expected") bytes)"

# 3. A wrong password: 535, nothing stored.
before=$(msg_ids)
if run_swaks badpass --server 127.0.0.1 --port 1587 --tls \
    --auth PLAIN --auth-user mox@localhost --auth-password not-the-password \
    --from mox@localhost --to someone@example.com \
    --data "$WORK/submission.eml"; then
    fail "swaks with a wrong password succeeded: $(tail -n 10 "$WORK/badpass.out")"
fi
grep -Eq '^<~\*? +535[ -]' "$WORK/badpass.out" ||
    fail "a wrong password did not get 535: $(grep -E '^<~' "$WORK/badpass.out" | tail -n 5)"
now=$(msg_ids)
[ "$now" = "$before" ] || fail "a message was stored after a failed AUTH (before: ${before//$'\n'/ }, now: ${now//$'\n'/ })"
note "wrong password: $(grep -E '^<~\*? +535' "$WORK/badpass.out" | head -n 1)"

ls_stop
echo "swaks ok: submission (STARTTLS + AUTH PLAIN) and smtp-in stored byte-identical; wrong password got 535"
