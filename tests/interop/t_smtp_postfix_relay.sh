#!/usr/bin/env bash
# Postfix relays into moxd: a private Postfix instance (its own config,
# queue and log under the work directory; never /etc/postfix, never port 25)
# listens on 127.0.0.1:2525 with relayhost [127.0.0.1]:1025, so a message
# injected into it over SMTP goes out through Postfix's smtp client
# (STARTTLS when offered) into moxd's smtp-in. The message must appear in the
# store with its body byte-identical to what was injected, and moxd's
# Received field must name the Postfix host.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Where the private Postfix listens.
PF_PORT=2525
# Its host name, which moxd's Received field must show.
PF_HOST=relay.interop.test
# Seconds to wait for the relayed message to appear in the store.
RELAY_WAIT=60
# Seconds to wait for Postfix to start or stop.
PF_WAIT=30

[ "$(id -u)" = 0 ] || fail "needs root (Postfix's master process starts as root)"
id postfix >/dev/null 2>&1 || fail "no user 'postfix' (install the Debian package postfix)"
PF=$WORK/postfix
mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
chown postfix "$PF/data"

cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
myhostname = $PF_HOST
mydomain = interop.test
myorigin = \$mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:1025
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_banner = \$myhostname ESMTP
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
alias_maps =
alias_database =
biff = no
EOF
# No chroot (the queue directory is private), only the services relaying
# needs, and smtpd only on 127.0.0.1:$PF_PORT.
. "$(dirname "$0")/postfix.sh"
postfix_master_cf "$PF/etc/master.cf" "127.0.0.1:$PF_PORT"

pf_stop() {
    timeout "$PF_WAIT" postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
    local t0=$SECONDS
    while timeout 10 postfix -c "$PF/etc" status >/dev/null 2>&1; do
        if ((SECONDS - t0 >= PF_WAIT)); then
            echo "[$T_NAME] postfix -c $PF/etc did not stop; abort" >&2
            timeout 10 postfix -c "$PF/etc" abort >/dev/null 2>&1 || true
            break
        fi
        sleep 0.5
    done
}

ls_start

wait_port_free "$PF_PORT" 30 || fail "port $PF_PORT on 127.0.0.1 is in use (another Postfix?)"
timeout "$PF_WAIT" postfix -c "$PF/etc" check || fail "postfix -c $PF/etc check failed: $(tail -n 20 "$PF/postfix.log" 2>/dev/null)"
on_exit pf_stop
# shellcheck disable=SC2016 # expanded when the script ends
on_exit '[ "$rc" = 0 ] || { echo "--- [$T_NAME] postfix log:" >&2; tail -n 40 "$PF/postfix.log" >&2 2>/dev/null; }'
timeout "$PF_WAIT" postfix -c "$PF/etc" start || fail "postfix -c $PF/etc start failed: $(tail -n 20 "$PF/postfix.log" 2>/dev/null)"
t0=$SECONDS
until port_open "$PF_PORT"; do
    ((SECONDS - t0 < PF_WAIT)) || fail "Postfix is not listening on 127.0.0.1:$PF_PORT after ${PF_WAIT}s: $(tail -n 20 "$PF/postfix.log" 2>/dev/null)"
    sleep 0.2
done
note "postfix $(postconf -c "$PF/etc" -h mail_version) listening on 127.0.0.1:$PF_PORT (config $PF/etc)"

# The message as injected; Postfix adds header fields, so only the body is
# compared. The body has a dot line and dot-leading lines (stuffed by
# Postfix's smtp client, unstuffed by moxd), a "From " line, blank lines,
# trailing white space, and a line of 990 octets (under the 998 limit).
long=$(printf 'L%.0s' $(seq 1 990))
printf '%s\r\n' \
    'From: Relay Sender <sender@interop.test>' \
    'To: Relay Recipient <relayed@localhost>' \
    'Subject: relayed by Postfix into moxd' \
    'Message-ID: <postfix-relay@interop.test>' \
    'Date: Thu, 26 Nov 2026 12:00:02 +0000' \
    'MIME-Version: 1.0' \
    'Content-Type: text/plain; charset=us-ascii' \
    '' \
    'This body must arrive unchanged.' \
    '.' \
    '.leading dot' \
    '..two leading dots' \
    'From the start of a line' \
    '' \
    'trailing blanks   ' \
    "$long" \
    '' \
    'The end.' >"$WORK/relay.eml"
body_of "$WORK/relay.eml" >"$WORK/relay.body"

before=$(msg_ids)
timeout 60 "$PY" - "$PF_PORT" "$WORK/relay.eml" <<'PY' || fail "injecting the message into Postfix on 127.0.0.1:$PF_PORT failed"
import smtplib, sys
port, path = int(sys.argv[1]), sys.argv[2]
msg = open(path, "rb").read()
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.ehlo("injector.interop.test")
    refused = s.sendmail("sender@interop.test", ["relayed@localhost"], msg)
    if refused:
        sys.exit(f"Postfix refused recipients: {refused!r}")
PY
note "injected into Postfix; waiting up to ${RELAY_WAIT}s for it in the store"
id=$(wait_new_id "$before" "$RELAY_WAIT")

msg_get "$id" "$WORK/relay.stored-raw" --raw
msg_get "$id" "$WORK/relay.stored"
body_of "$WORK/relay.stored-raw" >"$WORK/relay.stored-body"
same_bytes "body of relayed message $id" "$WORK/relay.body" "$WORK/relay.stored-body"
grep -q '^Message-ID: <postfix-relay@interop.test>' "$WORK/relay.stored-raw" ||
    fail "relayed message $id: our Message-ID is missing: $(head -n 20 "$WORK/relay.stored-raw")"
# Postfix's own Received field (the injection) is part of the message as received.
grep -q "by $PF_HOST (Postfix)" "$WORK/relay.stored-raw" ||
    fail "relayed message $id: no Received field from Postfix in the message as received: $(head -n 20 "$WORK/relay.stored-raw")"

prefix_of "$WORK/relay.stored" "$WORK/relay.stored-raw" >"$WORK/relay.prefix"
grep -q "^Received: from $PF_HOST " "$WORK/relay.prefix" ||
    fail "relayed message $id: moxd's Received field does not name the Postfix host $PF_HOST: $(cat "$WORK/relay.prefix")"
grep -q 'TLS connection established to 127.0.0.1' "$PF/postfix.log" ||
    fail "Postfix (smtp_tls_security_level = may) did not use STARTTLS to moxd's smtp-in: $(grep -i tls "$PF/postfix.log" | tail -n 5)"
grep -q 'with ESMTPS ' "$WORK/relay.prefix" ||
    fail "Postfix used STARTTLS but moxd's Received field does not say ESMTPS: $(cat "$WORK/relay.prefix")"
grep -q 'status=sent' "$PF/postfix.log" || fail "Postfix's log does not show the message as sent"
note "relayed message $id stored, body byte-identical ($(wc -c <"$WORK/relay.body") bytes), via STARTTLS; moxd's Received: $(head -n 1 "$WORK/relay.prefix" | tr -d '\r')"

pf_stop
ls_stop
echo "postfix relay ok: Postfix relayed into smtp-in over STARTTLS, body byte-identical, Received names $PF_HOST"
