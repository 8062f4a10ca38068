# bench/run: a private Postfix (Debian's postfix 3.7) for the SMTP figures. Sourced.
# Config in $W/postfix/etc, queue in $W/postfix/spool, never /etc/postfix or
# port 25. The settings of ../shared/tools/postfix-setup.sh MODE=maildir:
# smtpd on 127.0.0.1:$PF_PORT (no chroot), `mydestination` includes
# bench.test, no connection limits, `default_process_limit = 200`,
# `local_destination_concurrency_limit = 20`, delivery by local(8) to a
# Maildir as user `bench` in $W/postfix/maildir/bench/. Durable like moxd:
# cleanup(8) fsyncs the queue file before smtpd answers 250, local(8) fsyncs
# the Maildir file before renaming it into new/ (250 means "queued";
# delivery follows, concurrently). For the outbound figure a second smtpd on
# 127.0.0.1:$PF_SUB_PORT offers STARTTLS (the bench certificate) and relays
# for 127.0.0.0/8 to `relayhost = [$SINK_IP]:25` (smtp-sink),
# `default_destination_concurrency_limit = 20` like moxd's per-host limit.

# shellcheck source=../../tests/interop/postfix.sh
. "$ROOT/tests/interop/postfix.sh" # postfix_master_cf

PF=$W/postfix
PF_MASTER=

postfix_start() {
    port_free 127.0.0.1 "$PF_PORT"
    port_free 127.0.0.1 "$PF_SUB_PORT"
    mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/maildir"
    chown postfix "$PF/data"
    chown bench "$PF/maildir"
    cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mx.postfix.bench.test
mydomain = bench.test
myorigin = \$mydomain
mydestination = \$myhostname, localhost, bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [$SINK_IP]:25
alias_maps =
alias_database =
home_mailbox =
mail_spool_directory = $PF/maildir/
mailbox_size_limit = 0
message_size_limit = 52428800
smtpd_banner = \$myhostname ESMTP
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
local_destination_concurrency_limit = 20
default_destination_concurrency_limit = 20
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
local_transport = local:\$myhostname
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
biff = no
EOF
    postfix_master_cf "$PF/etc/master.cf" "127.0.0.1:$PF_PORT" \
        "127.0.0.1:$PF_SUB_PORT inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  -o smtpd_tls_cert_file=$CERT
  -o smtpd_tls_key_file=$KEY" \
        "local     unix  - n n -  - local"
    timeout 30 postfix -c "$PF/etc" check || die "postfix -c $PF/etc check failed (see $PF/postfix.log)"
    timeout 30 postfix -c "$PF/etc" start >/dev/null 2>&1 || die "postfix -c $PF/etc start failed (see $PF/postfix.log)"
    on_exit "timeout 30 postfix -c $PF/etc stop"
    wait_port 127.0.0.1 "$PF_PORT" Postfix
    PF_MASTER=$(head -n 1 "$PF/spool/pid/master.pid" | tr -d ' ')
}

# postfix_delivered: files in the Maildir of user bench.
postfix_delivered() { { find "$PF/maildir/bench/new" "$PF/maildir/bench/cur" -type f 2>/dev/null || true; } | wc -l; }

# postfix_queued: messages still in Postfix's queue.
postfix_queued() {
    { find "$PF/spool/incoming" "$PF/spool/active" "$PF/spool/deferred" "$PF/spool/maildrop" -type f 2>/dev/null || true; } | wc -l
}

postfix_version() { postconf -c "$PF/etc" -h mail_version 2>/dev/null; }
