#!/usr/bin/env bash
# Web worker benchmark: requests per second of an authenticated API call
# (`Account`: session check with CSRF token and touch, then the account
# overview from the store) and, as the ceiling of the HTTP layer and the
# load generator on the same machine in the same run, of a static file
# (`app.js`, no store), plus the web worker's memory (RSS before, after,
# and its peak). Prints a table; with OUT=FILE also writes JSON there.
#
# Usage (as root, on demand, not in CI):  bench/web-api.sh
# Environment: SECS (10 per measurement), CLIENTS (8 keep-alive
# connections), HTTP_PORT (10080), BENCH_DIR (/var/tmp), NO_BUILD=1 to use
# the existing target/release binaries, KEEP=1 to keep the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

SECS=${SECS:-10}
CLIENTS=${CLIENTS:-8}
HTTP_PORT=${HTTP_PORT:-10080}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
# Seconds to wait for moxd to start or stop.
START_TIMEOUT=60

die() {
    echo "web-api: $*" >&2
    exit 1
}
command -v python3 >/dev/null || die "python3 is needed (Debian package python3)"

if [ -z "${NO_BUILD:-}" ]; then
    (cd "$root" && cargo build --release --bin moxd --bin moxctl)
fi
TARGET=${CARGO_TARGET_DIR:-$root/target}
MOXD=$TARGET/release/moxd
MOXCTL=$TARGET/release/moxctl
[ -x "$MOXD" ] || die "no $MOXD (build it, or unset NO_BUILD)"
if [ "$(id -u)" = 0 ] && ! id moxd >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
fi

WORK=$(mktemp -d "$BENCH_DIR/moxd-web-bench.XXXXXX")
chmod 755 "$WORK"
PID=
cleanup() {
    if [ -n "$PID" ]; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 1 $((START_TIMEOUT * 5))); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "web-api: kept $WORK" >&2; fi
}
trap cleanup EXIT

cat >"$WORK/moxd.toml" <<TOML
hostname = "mail.bench.test"
data_dir = "$WORK/data"
control_socket = "$WORK/ctl"
sandbox = "required"
log = "warn"

[listeners]
ips = ["127.0.0.1"]
http = $HTTP_PORT

[web]
account_path = "/account/"
TOML
cat >"$WORK/domains.toml" <<'TOML'
domains = ["bench.test"]

[[accounts]]
name = "bench"
addresses = ["bench@bench.test"]
TOML
"$MOXD" serve -c "$WORK/moxd.toml" >"$WORK/moxd.log" 2>&1 &
PID=$!
# log = "warn" hides the ready line: wait for the control socket and the port.
ready() { [ -S "$WORK/ctl" ] && (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; }
for _ in $(seq 1 $((START_TIMEOUT * 5))); do
    ready && break
    kill -0 "$PID" 2>/dev/null || die "moxd exited: $(tail -5 "$WORK/moxd.log")"
    sleep 0.2
done
ready || die "moxd not ready after ${START_TIMEOUT}s"
printf 'bench-password-1\n' | "$MOXCTL" --socket "$WORK/ctl" setaccountpassword bench >/dev/null
WEB_PID=$("$MOXCTL" --socket "$WORK/ctl" status --json |
    python3 -c 'import json,sys; print(next(w["pid"] for w in json.load(sys.stdin)["workers"] if w["role"] == "Web"))')
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$WEB_PID/status"; }
RSS_BEFORE=$(rss VmRSS)

python3 - "$HTTP_PORT" "$SECS" "$CLIENTS" >"$WORK/result.txt" <<'PY'
import http.client, json, sys, threading, time
port, secs, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])

def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

# Log in once: LoginPrep, Login; every client uses the session.
c = conn()
c.request("POST", "/account/api/LoginPrep", body="{}", headers={"Content-Type": "application/json"})
r = c.getresponse()
login_cookie = r.getheader("Set-Cookie").split(";")[0]
token = json.loads(r.read())["result"]
c.request("POST", "/account/api/Login",
          body=json.dumps({"loginToken": token, "username": "bench@bench.test", "password": "bench-password-1"}),
          headers={"Content-Type": "application/json", "Cookie": login_cookie})
r = c.getresponse()
session = [h for h in r.getheader("Set-Cookie").split(", ") if h.startswith("webaccountsession=")][0].split(";")[0]
csrf = json.loads(r.read())["result"]
assert r.status == 200, r.status

def run(method, path, body, headers):
    count = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + secs
    def worker(i):
        c = conn()
        while time.monotonic() < stop:
            c.request(method, path, body=body, headers=headers)
            resp = c.getresponse()
            resp.read()
            if resp.status == 200:
                count[i] += 1
            else:
                errors[i] += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads: t.start()
    for t in threads: t.join(timeout=secs + 60)
    elapsed = time.monotonic() - t0
    return sum(count) / elapsed, sum(errors)

api_headers = {"Content-Type": "application/json", "Cookie": session, "x-moxd-csrf": csrf}
run("POST", "/account/api/Account", "{}", api_headers)  # warm-up
api, api_err = run("POST", "/account/api/Account", "{}", api_headers)
static, static_err = run("GET", "/account/app.js", None, {})
print(f"{api:.0f} {api_err} {static:.0f} {static_err}")
PY
read -r API API_ERR STATIC STATIC_ERR <"$WORK/result.txt"
RSS_AFTER=$(rss VmRSS)
RSS_PEAK=$(rss VmHWM)
[ "$API_ERR" = 0 ] || die "$API_ERR API calls failed"
[ "$STATIC_ERR" = 0 ] || die "$STATIC_ERR static requests failed"

RATIO=$(python3 -c "print(f'{$API / $STATIC:.2f}')")
printf '%-44s %12s\n' "measure ($CLIENTS clients, ${SECS}s each)" "value"
printf '%-44s %12s\n' "authenticated API call (Account), req/s" "$API"
printf '%-44s %12s\n' "static file (app.js), req/s" "$STATIC"
printf '%-44s %12s\n' "ratio API / static" "$RATIO"
printf '%-44s %12s\n' "web worker RSS before, KiB" "$RSS_BEFORE"
printf '%-44s %12s\n' "web worker RSS after, KiB" "$RSS_AFTER"
printf '%-44s %12s\n' "web worker peak RSS, KiB" "$RSS_PEAK"
if [ -n "${OUT:-}" ]; then
    cat >"$OUT" <<JSON
{"clients": $CLIENTS, "secs": $SECS, "api_account_rps": $API, "static_rps": $STATIC,
 "ratio": $RATIO, "web_rss_kib_before": $RSS_BEFORE, "web_rss_kib_after": $RSS_AFTER, "web_rss_kib_peak": $RSS_PEAK,
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)"}
JSON
fi
