# bench/run: one moxd (`moxd serve`, release build) for every figure. Sourced.
# A production-like config in $W/moxd: sandbox = "required", log = "warn",
# listeners on 127.0.0.1 only (SMTP $MOXD_SMTP_PORT, submission
# $MOXD_SUB_PORT with STARTTLS, IMAP with implicit TLS on $MOXD_IMAPS_PORT),
# the bench certificate, DNS from the bench's NSD (outbound figure). Workers
# run as user `moxd`. moxd answers 250 to DATA only after the store has
# fsynced the message file, renamed it into the account's directory, fsynced
# the directory and committed the row (SQLite WAL, synchronous=FULL, group
# commit across concurrent deliveries).

MX=$W/moxd
MOXD_PID=
MOXD_IMAP=0 # 1 once moxd answers IMAP on $MOXD_IMAPS_PORT

mctl() { timeout 60 "$MOXCTL_BIN" --socket "$MX/ctl" "$@"; }

# moxd_config IMAP: writes moxd.toml; IMAP is "limits" (listener and [imap]
# limits), "listener" (listener, default limits) or "none".
moxd_config() {
    {
        cat <<EOF
hostname = "mx.moxd.bench.test"
data_dir = "$MX/data"
control_socket = "$MX/ctl"
sandbox = "required"
log = "warn"
resolver = "$DNS_IP:53"

[tls]
cert = "$CERT"
key = "$KEY"

[listeners]
ips = ["127.0.0.1"]
smtp = $MOXD_SMTP_PORT
submission = $MOXD_SUB_PORT
EOF
        [ "$1" = none ] || echo "imaps = $MOXD_IMAPS_PORT"
        if [ "$1" = limits ]; then
            # imaptest reconnects its 20 clients all the time: allow more
            # than the default 20 connections from 127.0.0.1.
            printf '\n[imap]\nmax_connections_per_ip = 1000\nmax_connections_per_account = 1000\n'
        fi
    } >"$MX/moxd.toml"
}

# moxd_domains ACCOUNT...: domains.toml with bench.test and one account per
# name, address NAME@bench.test.
moxd_domains() {
    local a
    {
        echo 'domains = ["bench.test"]'
        for a in "$@"; do
            printf '\n[[accounts]]\nname = "%s"\naddresses = ["%s@bench.test"]\n' "$a" "$a"
        done
    } >"$MX/domains.toml"
}

moxd_ready() {
    kill -0 "$MOXD_PID" 2>/dev/null || return 1
    port_open 127.0.0.1 "$MOXD_SMTP_PORT" && mctl status >/dev/null 2>&1
}

# moxd_start ACCOUNT...: starts moxd, with IMAP when this build serves it.
moxd_start() {
    local with_imap=0 mode i
    id moxd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
    port_free 127.0.0.1 "$MOXD_SMTP_PORT"
    port_free 127.0.0.1 "$MOXD_SUB_PORT"
    port_free 127.0.0.1 "$MOXD_IMAPS_PORT"
    mkdir -p "$MX"
    moxd_domains "$@"
    # The newest config this build accepts.
    for mode in limits listener none; do
        moxd_config "$mode"
        "$MOXD_BIN" config check -c "$MX/moxd.toml" >"$MX/check.out" 2>&1 && break
        [ "$mode" != none ] || die "moxd config check: $(cat "$MX/check.out")"
        say "moxd: this build rejects the config with IMAP '$mode': $(tail -n 1 "$MX/check.out")"
    done
    [ "$mode" = none ] || with_imap=1
    "$MOXD_BIN" serve -c "$MX/moxd.toml" >>"$MX/log" 2>&1 &
    MOXD_PID=$!
    on_exit "stop_pid $MOXD_PID"
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        moxd_ready && break
        kill -0 "$MOXD_PID" 2>/dev/null || die "moxd serve exited: $(tail -n 20 "$MX/log")"
        sleep 0.1
    done
    moxd_ready || die "moxd not ready after ${START_TIMEOUT}s: $(tail -n 20 "$MX/log")"
    if [ "$with_imap" = 1 ]; then
        # The IMAP worker may be absent from this build: it must greet.
        for ((i = 0; i < 3; i++)); do
            imap_greets "$MOXD_IMAPS_PORT" && MOXD_IMAP=1 && break
            sleep 0.5
        done
        [ "$MOXD_IMAP" = 1 ] || say "moxd: no IMAP greeting on 127.0.0.1:$MOXD_IMAPS_PORT; IMAP figures for moxd will be n/a"
    fi
}

# imap_greets PORT: an IMAP server answers "* OK" over implicit TLS there.
imap_greets() {
    timeout 4 "$PY" - "$1" <<'PY' >/dev/null 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3))
sys.exit(0 if s.recv(200).startswith(b"* OK") else 1)
PY
}

# moxd_roles: "role pid" lines for the master and every worker.
moxd_roles() {
    mctl status --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print("master", s["master_pid"])
for w in s["workers"]:
    if w.get("pid"):
        print(w["role"], w["pid"])'
}

# moxd_count ACCOUNT: messages the account holds.
moxd_count() {
    mctl account list | awk -F'\t' -v a="$1" '$1 == a { split($2, f, " "); print f[1] }'
}

# moxd_set_passwords ACCOUNT...: password $IMAP_PASS for each.
moxd_set_passwords() {
    local a
    for a in "$@"; do
        echo "$IMAP_PASS" | mctl setaccountpassword "$a" >/dev/null || die "moxctl setaccountpassword $a failed"
    done
}

moxd_version() { "$MOXD_BIN" --version 2>/dev/null; }
