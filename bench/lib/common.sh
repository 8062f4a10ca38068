# Shared helpers of bench/run: messages, clean-up, ports, timing, results.
# Sourced, not run. Expects $W (work directory), $PY, $BENCH (bench/).

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}

# Clean-up actions, run in reverse order on exit.
CLEANUPS=()
on_exit() { CLEANUPS+=("$1"); }
run_cleanups() {
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true
    done
    CLEANUPS=()
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_port HOST PORT WHAT [PID]: until HOST:PORT accepts, START_TIMEOUT at most;
# fails early when PID (the server) exits.
wait_port() {
    local i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        port_open "$1" "$2" && return 0
        if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
            die "$3 exited before listening on $1:$2"
        fi
        sleep 0.1
    done
    die "$3 not listening on $1:$2 after ${START_TIMEOUT}s"
}

# port_free HOST PORT: die when something already listens there.
port_free() {
    ! port_open "$1" "$2" || die "$1:$2 is already in use (another server running? set the *_PORT variables)"
}

# stop_pid PID: TERM, wait up to START_TIMEOUT, then KILL.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

now() { date +%s.%N; }
# secs T0 T1: seconds between two `now` readings, 3 decimals.
secs() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
# rate N SECS: N per second.
rate() { "$PY" -c "import sys; print(f'{float(sys.argv[1]) / max(float(sys.argv[2]), 1e-9):.1f}')" "$1" "$2"; }

# wait_until SECS WHAT CMD...: until CMD succeeds (polled every 0.1 s).
wait_until() {
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    die "timed out after ${limit}s waiting for $what"
}

# record FIGURE SYSTEM VALUE...: one measurement (several values = repeats).
record() {
    "$PY" "$BENCH/lib/results.py" add "$W/results.jsonl" "$@"
}

# record_note TEXT...: a remark printed under the table.
record_note() { "$PY" "$BENCH/lib/results.py" note "$W/results.jsonl" "$*"; }

# procstat ARGS...: CPU ticks and RSS of process trees (bench/lib/procstat.py).
procstat() { "$PY" "$BENCH/lib/procstat.py" "$@"; }

# Source addresses of load generators, in four /26 blocks of 127.0.0.0/8:
# 100 connections stay within moxd's per-address (30) and per-/26 (90)
# limits. See bench/lib/srcaddr.c.
SRC_ADDRS="127.0.0.1 127.0.0.65 127.0.0.129 127.0.0.193"

# build_spread: compiles bench/lib/srcaddr.c into the work directory.
build_spread() {
    gcc -shared -fPIC -O2 -o "$W/srcaddr.so" "$BENCH/lib/srcaddr.c" -ldl ||
        die "compiling bench/lib/srcaddr.c failed (apt-get install gcc libc6-dev)"
}

# spread CMD...: runs a load generator whose connections rotate over $SRC_ADDRS.
spread() { LD_PRELOAD=$W/srcaddr.so BENCH_SRC_ADDRS=$SRC_ADDRS "$@"; }

# settle: let earlier writes reach the disk before a measured run.
settle() {
    sync
    sleep "${SETTLE_SECS:-1}"
}
