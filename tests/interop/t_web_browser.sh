#!/usr/bin/env bash
# The web interfaces in a real browser: Debian's Chromium driven by
# playwright-core (t_web_browser.js; no browser download). A `moxd serve`
# with an HTTP listener on a free port and admin sessions that expire after
# a few idle seconds; the driver logs in to the account and admin pages,
# changes a password (a second browser's session ends, the first stays),
# logs out, and lets an admin session expire (the login form comes up and
# the call that failed goes through after the login). Screenshots of each
# page go to target/screenshots/.
set -euo pipefail
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-420}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(cd "$here/../.." && pwd)

# Seconds an admin session lasts without use in this test.
IDLE=6
# Where playwright-core is installed (npm, once; it drives /usr/bin/chromium).
PW_DIR=${PW_DIR:-/var/cache/moxd-playwright}
SHOTS=$root/target/screenshots

[ -x /usr/bin/chromium ] || fail "missing /usr/bin/chromium — install the Debian package 'chromium'"
command -v node >/dev/null || fail "missing node — install the Debian package 'nodejs'"
if [ ! -d "$PW_DIR/node_modules/playwright-core" ]; then
    command -v npm >/dev/null || fail "missing npm (needed once to fetch playwright-core) — install the Debian package 'npm'"
    note "installing playwright-core into $PW_DIR"
    mkdir -p "$PW_DIR"
    timeout 300 npm install --prefix "$PW_DIR" --no-audit --no-fund playwright-core@1 >"$WORK/npm.log" 2>&1 ||
        { cat "$WORK/npm.log" >&2; fail "npm install playwright-core failed (is the npm registry reachable?)"; }
fi
mkdir -p "$SHOTS"

if [ "$(id -u)" = 0 ] && ! id moxd >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
fi

read -r HTTP_PORT METRICS_PORT < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

LS_DIR=$WORK/serve
mkdir -p "$LS_DIR"
chmod 755 "$LS_DIR"
cat >"$LS_DIR/moxd.toml" <<TOML
hostname = "mail.example.org"
data_dir = "$LS_DIR/data"
control_socket = "$LS_DIR/ctl"
sandbox = "best-effort"

[listeners]
ips = ["127.0.0.1"]
http = $HTTP_PORT
metrics = $METRICS_PORT

[web]
account_path = "/account/"
admin_session_idle_secs = $IDLE
TOML
cat >"$LS_DIR/domains.toml" <<'TOML'
domains = ["example.org"]

[[accounts]]
name = "browser"
addresses = ["browser@example.org"]
TOML

"$MOXD_BIN" serve -c "$LS_DIR/moxd.toml" >"$LS_LOG" 2>&1 &
LS_PID=$!
t0=$SECONDS
until grep -q "moxd ready" "$LS_LOG" 2>/dev/null; do
    kill -0 "$LS_PID" 2>/dev/null || { LS_PID=; fail "moxd serve exited before it was ready"; }
    ((SECONDS - t0 < LS_READY_WAIT)) || fail "moxd serve was not ready after ${LS_READY_WAIT}s"
    sleep 0.2
done
note "moxd ready on http://127.0.0.1:$HTTP_PORT"

PASSWORD="first-Password-1"
NEW_PASSWORD="second-Password-2"
ADMIN_PASSWORD="admin-Password-3"
printf '%s\n' "$PASSWORD" | ctl setaccountpassword browser >/dev/null || fail "moxctl setaccountpassword failed"
printf '%s\n' "$ADMIN_PASSWORD" | ctl setadminpassword >/dev/null || fail "moxctl setadminpassword failed"

NODE_PATH="$PW_DIR/node_modules" timeout 300 node "$here/t_web_browser.js" \
    "http://127.0.0.1:$HTTP_PORT" "$SHOTS" browser@example.org "$PASSWORD" "$NEW_PASSWORD" "$ADMIN_PASSWORD" "$IDLE" ||
    fail "browser test failed"

# What the browser did is what the server holds.
ctl domain list | grep -qx "expired.example" || fail "the domain added after the re-login is not in the store"
grep -q "expired.example" "$LS_DIR/domains.toml" || fail "the domain added from the web is not in domains.toml"
for s in account-login account account-phone account-session-ended admin-login admin admin-relogin admin-after-relogin; do
    [ -s "$SHOTS/$s.png" ] || fail "screenshot $s.png missing"
done
if grep -qE "$PASSWORD|$NEW_PASSWORD|$ADMIN_PASSWORD" "$LS_LOG"; then
    fail "a password appears in moxd's log"
fi
ls_stop
note "screenshots in $SHOTS"
