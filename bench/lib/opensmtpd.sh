# bench/run: OpenSMTPD (Debian's opensmtpd 6.8) for the SMTP accept figure. Sourced.
# The package conflicts with postfix (both provide mail-transport-agent), and
# Postfix is needed for smtp-source, so the .deb is fetched with `apt-get
# download` and unpacked into $OSMTPD_CACHE; its libraries come from apt.
# It runs in the foreground (`smtpd -d -f $W/opensmtpd/smtpd.conf`) as
# users opensmtpd and opensmtpq (Debian's names); its queue is the
# compiled-in /var/spool/smtpd (removed at the end), its delivery helpers
# the compiled-in /usr/libexec/opensmtpd (a symlink into the unpacked
# package while the bench runs, unless that directory exists). Config:
# listen on 127.0.0.1:$OSMTPD_PORT; mail for bench.test goes to the
# `maildir` action (mail.maildir, as user bench) in
# $W/opensmtpd/maildir/bench/; `smtp limit max-mails` raised so that one
# session can send thousands of messages. Durability differs: OpenSMTPD's
# queue does not fsync (strace shows one fsync per message, by
# mail.maildir before its rename into new/), so its 250 survives a process
# crash but not a system crash or power loss; its "in the mailbox" rate is the durable figure.

OS=$W/opensmtpd
OSMTPD_PID=
OSMTPD_BIN=
OSMTPD_SPOOL=/var/spool/smtpd
OSMTPD_LIBEXEC=/usr/libexec/opensmtpd

# opensmtpd_fetch: the unpacked package in $OSMTPD_CACHE (downloaded once).
opensmtpd_fetch() {
    local deb
    if [ ! -x "$OSMTPD_CACHE/root/usr/sbin/smtpd" ]; then
        mkdir -p "$OSMTPD_CACHE"
        (cd "$OSMTPD_CACHE" && apt-get download opensmtpd >/dev/null 2>&1) ||
            die "apt-get download opensmtpd failed (needs the Debian archive; OpenSMTPD cannot be apt-installed beside postfix)"
        deb=$(find "$OSMTPD_CACHE" -maxdepth 1 -name "opensmtpd_*.deb" | sort | tail -n 1)
        [ -n "$deb" ] || die "no opensmtpd .deb in $OSMTPD_CACHE"
        rm -rf "$OSMTPD_CACHE/root"
        dpkg-deb -x "$deb" "$OSMTPD_CACHE/root" || die "dpkg-deb -x $deb failed"
    fi
    OSMTPD_BIN=$OSMTPD_CACHE/root/usr/sbin/smtpd
    if ldd "$OSMTPD_BIN" | grep -q "not found"; then
        die "OpenSMTPD lacks libraries: $(ldd "$OSMTPD_BIN" | grep 'not found' | tr -s ' \n' ' ') (bench/run installs the package's Depends)"
    fi
}

opensmtpd_start() {
    port_free 127.0.0.1 "$OSMTPD_PORT"
    [ ! -S /var/run/smtpd.sock ] || ! pgrep -x smtpd >/dev/null ||
        die "another OpenSMTPD is running (its control socket /var/run/smtpd.sock is in use)"
    opensmtpd_fetch
    id opensmtpd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/opensmtpd --shell /usr/sbin/nologin opensmtpd
    id opensmtpq >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/opensmtpd --shell /usr/sbin/nologin opensmtpq
    mkdir -p /var/lib/opensmtpd/empty "$OS/maildir"
    chown bench "$OS/maildir"
    rm -rf "$OSMTPD_SPOOL"
    if [ ! -e "$OSMTPD_LIBEXEC" ]; then
        ln -s "$OSMTPD_CACHE/root/usr/libexec/opensmtpd" "$OSMTPD_LIBEXEC"
        on_exit "rm -f $OSMTPD_LIBEXEC"
    fi
    [ -x "$OSMTPD_LIBEXEC/mail.maildir" ] || die "$OSMTPD_LIBEXEC/mail.maildir is missing"
    cat >"$OS/smtpd.conf" <<EOF
smtp limit max-mails 1000000 max-rcpt 1000
smtp max-message-size 50M
listen on 127.0.0.1 port $OSMTPD_PORT hostname mx.opensmtpd.bench.test
action "local" maildir "$OS/maildir/%{user.username}"
match from any for domain "bench.test" action "local"
EOF
    chmod 644 "$OS/smtpd.conf"
    "$OSMTPD_BIN" -n -f "$OS/smtpd.conf" >"$OS/check.out" 2>&1 || die "OpenSMTPD rejects its config: $(cat "$OS/check.out")"
    "$OSMTPD_BIN" -d -f "$OS/smtpd.conf" >"$OS/log" 2>&1 &
    OSMTPD_PID=$!
    on_exit "stop_pid $OSMTPD_PID; rm -rf $OSMTPD_SPOOL"
    wait_port 127.0.0.1 "$OSMTPD_PORT" OpenSMTPD "$OSMTPD_PID"
}

opensmtpd_delivered() { { find "$OS/maildir/bench/new" "$OS/maildir/bench/cur" -type f 2>/dev/null || true; } | wc -l; }

# opensmtpd_queued: messages still in OpenSMTPD's queue.
opensmtpd_queued() {
    { find "$OSMTPD_SPOOL/queue" "$OSMTPD_SPOOL/incoming" -name message -type f 2>/dev/null || true; } | wc -l
}

opensmtpd_version() { "$OSMTPD_BIN" -h 2>&1 | grep -o 'OpenSMTPD [^ ]*' | head -n 1 || true; }
