# shellcheck shell=bash
# Shared shell helpers for the interop scripts (sourced, not run): a
# private `moxd localserve` that is started, waited for and always stopped,
# moxctl access to what the store holds, and loud failures.
#
# Use:  . "$(dirname "$0")/lib.sh"; ls_start; ...; ls_stop
# Needs MOXD_BIN and MOXCTL_BIN (tests/interop/run sets them).

# localserve's fixed ports (standard + 1000).
LS_PORTS=(1025 1587 1465)
# Seconds to wait for another localserve to free the fixed ports.
LS_PORT_WAIT=120
# Seconds to wait for "moxd localserve ready".
LS_READY_WAIT=60
# Seconds to wait for localserve to exit after SIGTERM.
LS_STOP_WAIT=60
# Seconds one moxctl call may take.
CTL_TIMEOUT=30
# Seconds one whole interop script may take before it is stopped.
SCRIPT_TIMEOUT=${SCRIPT_TIMEOUT:-300}

shopt -s inherit_errexit
T_NAME=$(basename "$0" .sh)
: "${MOXD_BIN:?MOXD_BIN must name the moxd binary (tests/interop/run sets it)}"
: "${MOXCTL_BIN:?MOXCTL_BIN must name the moxctl binary (tests/interop/run sets it)}"

# Work directory of this script; the worker user must be able to traverse it.
WORK=$(mktemp -d "/tmp/moxd-interop-$T_NAME.XXXXXX")
chmod 755 "$WORK"
LS_DIR=$WORK/localserve
LS_LOG=$WORK/localserve.log
LS_PID=
CLEANUPS=()

# fail MESSAGE...: say what is wrong and stop the script (non-zero).
fail() {
    echo "FAIL [$T_NAME]: $*" >&2
    exit 1
}

note() {
    echo "[$T_NAME] $*"
}

# on_exit COMMAND: run COMMAND (a string, eval'd) when the script ends, before
# localserve is stopped; commands run in reverse order of registration.
on_exit() {
    CLEANUPS+=("$1")
}

_cleanup() {
    local rc=$?
    trap - EXIT TERM INT
    if [ -n "${WATCHDOG_PID:-}" ]; then
        kill "$WATCHDOG_PID" 2>/dev/null || true
        wait "$WATCHDOG_PID" 2>/dev/null || true
    fi
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[$i]}" || true
    done
    if [ -n "$LS_PID" ]; then
        _ls_terminate || true
    fi
    if [ "$rc" != 0 ] && [ -f "$LS_LOG" ]; then
        echo "--- [$T_NAME] last lines of moxd's output ($LS_LOG):" >&2
        tail -n 40 "$LS_LOG" >&2
    fi
    if [ "$rc" = 0 ] && [ -z "${KEEP_WORK:-}" ]; then
        rm -rf "$WORK"
    else
        echo "[$T_NAME] work directory kept: $WORK" >&2
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'fail "interrupted"' INT
trap 'fail "timed out after ${SCRIPT_TIMEOUT}s (SCRIPT_TIMEOUT)"' TERM

# The whole script is bounded in time: a watchdog sends SIGTERM.
(
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$SCRIPT_TIMEOUT" &
    sleeper=$!
    wait "$sleeper"
    kill -TERM $$ 2>/dev/null
) &
WATCHDOG_PID=$!

# port_open PORT [HOST]: whether something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# wait_port_free PORT SECONDS
wait_port_free() {
    local port=$1 secs=$2 t0=$SECONDS
    while port_open "$port"; do
        if ((SECONDS - t0 >= secs)); then
            return 1
        fi
        sleep 1
    done
}

# ls_start: start `moxd localserve --dir $LS_DIR` and wait until it is ready.
ls_start() {
    local p
    for p in "${LS_PORTS[@]}"; do
        wait_port_free "$p" "$LS_PORT_WAIT" ||
            fail "port $p on 127.0.0.1 is still in use after ${LS_PORT_WAIT}s (another moxd localserve?); localserve needs 1025, 1587 and 1465"
    done
    "$MOXD_BIN" localserve --dir "$LS_DIR" >"$LS_LOG" 2>&1 &
    LS_PID=$!
    local t0=$SECONDS
    until grep -q "moxd localserve ready" "$LS_LOG" 2>/dev/null; do
        if ! kill -0 "$LS_PID" 2>/dev/null; then
            wait "$LS_PID" && rc=0 || rc=$?
            LS_PID=
            fail "moxd localserve exited (status $rc) before it was ready"
        fi
        if ((SECONDS - t0 >= LS_READY_WAIT)); then
            fail "moxd localserve was not ready after ${LS_READY_WAIT}s"
        fi
        sleep 0.2
    done
    note "localserve ready (pid $LS_PID, dir $LS_DIR)"
}

# SIGTERM, bounded wait, SIGKILL as a last resort; returns moxd's exit status.
_ls_terminate() {
    local pid=$LS_PID rc
    LS_PID=
    kill -TERM "$pid" 2>/dev/null || true
    local t0=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - t0 >= LS_STOP_WAIT)); then
            echo "[$T_NAME] localserve did not stop within ${LS_STOP_WAIT}s of SIGTERM: SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 124
        fi
        sleep 0.2
    done
    wait "$pid" && rc=0 || rc=$?
    return "$rc"
}

# ls_stop: stop localserve with SIGTERM; a non-zero exit status is a failure.
ls_stop() {
    [ -n "$LS_PID" ] || fail "ls_stop: localserve is not running"
    local rc
    _ls_terminate && rc=0 || rc=$?
    [ "$rc" = 0 ] || fail "moxd localserve exited with status $rc after SIGTERM"
    note "localserve stopped"
}

# ctl ARGS...: moxctl against this localserve.
ctl() {
    timeout "$CTL_TIMEOUT" "$MOXCTL_BIN" --socket "$LS_DIR/ctl" "$@"
}

# msg_ids: the IDs of the messages in account mox's Inbox, one a line.
msg_ids() {
    local out
    out=$(ctl message list mox) || fail "moxctl message list mox failed"
    printf '%s\n' "$out" | awk -F'\t' 'NF >= 3 && $1 ~ /^[0-9]+$/ { print $1 }'
}

# msg_count: how many messages account mox's Inbox holds.
msg_count() {
    local ids
    ids=$(msg_ids) || exit 1
    if [ -z "$ids" ]; then echo 0; else printf '%s\n' "$ids" | wc -l; fi
}

# new_id BEFORE: the one message ID that is not in the list BEFORE (IDs one a
# line); fails unless exactly one message was added.
new_id() {
    local before=$1 now added
    now=$(msg_ids) || exit 1
    added=$(comm -13 <(printf '%s\n' "$before" | sort) <(printf '%s\n' "$now" | sort) | sed '/^$/d')
    local n
    n=$(printf '%s' "$added" | grep -c . || true)
    [ "$n" = 1 ] || fail "expected exactly one new message in the store, found $n (before: ${before//$'\n'/ }, now: ${now//$'\n'/ })"
    printf '%s\n' "$added"
}

# wait_new_id BEFORE SECONDS: like new_id, polling until a message appears.
wait_new_id() {
    local before=$1 secs=$2 t0=$SECONDS now
    while :; do
        now=$(msg_ids) || exit 1
        if [ "$(printf '%s\n' "$now" | sed '/^$/d' | wc -l)" -gt "$(printf '%s\n' "$before" | sed '/^$/d' | wc -l)" ]; then
            new_id "$before"
            return
        fi
        ((SECONDS - t0 < secs)) || fail "no new message in the store after ${secs}s"
        sleep 0.5
    done
}

# msg_get ID FILE [--raw]: the stored message (with our headers, or --raw).
msg_get() {
    ctl message get mox "$1" "${@:3}" >"$2" || fail "moxctl message get mox $1 ${*:3} failed"
}

# same_bytes WHAT EXPECTED_FILE ACTUAL_FILE: fail, showing the first
# difference, unless the two files are byte-identical.
same_bytes() {
    if ! cmp -s "$2" "$3"; then
        echo "--- [$T_NAME] $1: expected ($2, $(wc -c <"$2") bytes) vs stored ($3, $(wc -c <"$3") bytes):" >&2
        cmp "$2" "$3" >&2 || true
        diff <(od -c "$2") <(od -c "$3") | head -n 20 >&2 || true
        fail "$1: the stored bytes differ from what was sent"
    fi
}

# body_of FILE: the body, everything after the first empty line (CRLF CRLF).
body_of() {
    "$PY" - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
sep = data.find(b"\r\n\r\n")
if sep < 0:
    sys.exit("no header/body separator (CRLF CRLF) in " + sys.argv[1])
sys.stdout.buffer.write(data[sep + 4:])
PY
}

# The stored prefix: what moxd added before the message as received.
# prefix_of FULL RAW: prints FULL minus the RAW suffix; fails if RAW is not
# a suffix of FULL.
prefix_of() {
    "$PY" - "$1" "$2" <<'PY'
import sys
full = open(sys.argv[1], "rb").read()
raw = open(sys.argv[2], "rb").read()
if not full.endswith(raw):
    sys.exit("the stored message does not end with the message as received")
sys.stdout.buffer.write(full[: len(full) - len(raw)])
PY
}

# Debian's python3 when it is there (its modules), else the one on PATH.
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
