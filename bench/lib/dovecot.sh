# bench/run: a private Dovecot (Debian's dovecot-imapd 2.3) for the IMAP figures.
# Sourced. Config, runtime directory, log and mail all live in $W/dovecot;
# /etc/dovecot is never read. Settings follow ../shared/tools/dovecot-setup.sh
# (high-performance login processes: service_count = 0, process_min_avail = 2)
# with two changes for a like-for-like comparison with moxd: implicit TLS
# on $DOVECOT_PORT with the same certificate moxd uses (moxd's serve mode
# refuses passwords without TLS), and passwords stored as SCRAM-SHA-256 with
# 4096 iterations, the hash moxd checks at every login ($DOVECOT_SCHEME=PLAIN
# stores them in clear text as the shared setup does; logins then cost
# Dovecot almost nothing). Mail in Maildir, one
# directory per user, owned by user `bench`; mail_fsync stays at its default
# (`optimized`: new messages are fsynced, indexes are not).

DV=$W/dovecot
DOVECOT_PID=

# dovecot_start USER...: users (full addresses), all with password $IMAP_PASS.
dovecot_start() {
    local uid gid hash u
    port_free 127.0.0.1 "$DOVECOT_PORT"
    mkdir -p "$DV/run" "$DV/mail"
    chown bench:bench "$DV/mail"
    uid=$(id -u bench)
    gid=$(id -g bench)
    hash=$(doveadm pw -s "$DOVECOT_SCHEME" -p "$IMAP_PASS") || die "doveadm pw -s $DOVECOT_SCHEME failed"
    : >"$DV/users"
    for u in "$@"; do
        echo "$u:$hash:$uid:$gid::$DV/mail/$u::" >>"$DV/users"
    done
    cat >"$DV/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $DV/run
instance_name = moxd-bench-dovecot
state_dir = $DV/state
ssl = required
ssl_cert = <$CERT
ssl_key = <$KEY
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 100
log_path = $DV/log
passdb {
  driver = passwd-file
  args = scheme=$DOVECOT_SCHEME username_format=%u $DV/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DV/users
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DOVECOT_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 2
}
service imap {
  process_limit = 1024
}
default_client_limit = 4096
default_process_limit = 1024
protocol imap {
  mail_max_userip_connections = 1000
}
namespace inbox {
  inbox = yes
}
EOF
    mkdir -p "$DV/state"
    doveconf -c "$DV/dovecot.conf" -n >/dev/null || die "doveconf rejects $DV/dovecot.conf"
    dovecot -F -c "$DV/dovecot.conf" >>"$DV/log" 2>&1 &
    DOVECOT_PID=$!
    on_exit "stop_pid $DOVECOT_PID"
    wait_port 127.0.0.1 "$DOVECOT_PORT" Dovecot "$DOVECOT_PID"
}

# dovecot_maildir USER: the Maildir of a user (created by dovecot_fill or at first login).
dovecot_maildir() { echo "$DV/mail/$1/Maildir"; }

# dovecot_fill USER N: N messages written straight into the user's Maildir
# (cur/, unseen), the same shape as smtp-source's; Dovecot indexes them at
# the first SELECT, which bench/run does before measuring.
dovecot_fill() {
    "$PY" "$BENCH/lib/maildirfill.py" "$(dovecot_maildir "$1")" "$2" "$IMAP_SIZE" "$1" ||
        die "filling the Maildir of $1 failed"
    chown -R bench:bench "$DV/mail/$1"
}

dovecot_version() { dovecot --version 2>/dev/null | cut -d' ' -f1; }
