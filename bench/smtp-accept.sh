#!/usr/bin/env bash
# SMTP accept benchmark: moxd's smtp-in against Postfix on the same machine
# in the same run, both durable (moxd answers 250 after fsync + commit of the
# message and its row; Postfix after fsync of its queue file, then delivers
# into a Maildir). Postfix's smtp-source drives each with the same load;
# prints a table and writes bench/results/latest.json. See bench/README.md.
#
# Usage (as root, on demand, not in CI):  bench/smtp-accept.sh
# Environment: MESSAGES (20000, split into ROUNDS (4) alternating rounds),
# SESSIONS (20), SIZE (4096), WARMUP (500),
# MOXD_PORT (10025), PF_PORT (2525), BENCH_DIR (/var/tmp), NO_BUILD=1 to use
# the existing target/release binaries, KEEP=1 to keep the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

MESSAGES=${MESSAGES:-20000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-4096}
WARMUP=${WARMUP:-500}
ROUNDS=${ROUNDS:-4}
MOXD_PORT=${MOXD_PORT:-10025}
PF_PORT=${PF_PORT:-2525}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
# Seconds one smtp-source run may take.
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
# Seconds to wait for Postfix to deliver everything it accepted.
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-900}
# Seconds to wait for a server to start or stop.
START_TIMEOUT=60
# Seconds between RSS samples.
SAMPLE_INTERVAL=0.2
((MESSAGES % ROUNDS == 0)) || { echo "smtp-accept: MESSAGES must be a multiple of ROUNDS" >&2; exit 1; }
PER_ROUND=$((MESSAGES / ROUNDS))
RCPT=bench@bench.test
FROM=src@bench.test

die() {
    echo "smtp-accept: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (Postfix instance, moxd workers as user moxd)"
for tool in smtp-source:postfix postfix:postfix postconf:postfix python3:python3; do
    command -v "${tool%%:*}" >/dev/null || die "missing ${tool%%:*}: apt-get install ${tool#*:}"
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

if [ -z "${NO_BUILD:-}" ]; then
    (cd "$root" && cargo build --release --bin moxd --bin moxctl)
fi
target=${CARGO_TARGET_DIR:-$root/target}
MOXD_BIN=${MOXD_BIN:-$target/release/moxd}
MOXCTL_BIN=${MOXCTL_BIN:-$target/release/moxctl}
{ [ -x "$MOXD_BIN" ] && [ -x "$MOXCTL_BIN" ]; } || die "no release binaries at $MOXD_BIN / $MOXCTL_BIN"

id moxd >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin moxd
id bench >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin bench

W=$(mktemp -d "$BENCH_DIR/moxd-bench.XXXXXX")
chmod 755 "$W"
MOXD_PID=
PF=$W/postfix
SAMPLER_PID=

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; fi
    if [ -d "$PF/spool" ]; then
        timeout 30 postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
    fi
    if [ -n "$MOXD_PID" ]; then
        kill -TERM "$MOXD_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < START_TIMEOUT * 5; i++)); do
            kill -0 "$MOXD_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$MOXD_PID" 2>/dev/null || true
        wait "$MOXD_PID" 2>/dev/null || true
    fi
    if [ "$rc" = 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$W"
    else
        echo "smtp-accept: work directory kept: $W" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'die interrupted' INT TERM

for p in "$MOXD_PORT" "$PF_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use"
done

# --- moxd: `serve` with a minimal production-like config --------------------
mkdir -p "$W/moxd"
cat >"$W/moxd/moxd.toml" <<EOF
hostname = "mx.moxd.bench.test"
data_dir = "$W/moxd/data"
control_socket = "$W/moxd/ctl"
sandbox = "required"
log = "warn"

[listeners]
ips = ["127.0.0.1"]
smtp = $MOXD_PORT
EOF
cat >"$W/moxd/domains.toml" <<EOF
domains = ["bench.test"]

[[accounts]]
name = "bench"
addresses = ["$RCPT"]
EOF
"$MOXD_BIN" serve -c "$W/moxd/moxd.toml" >"$W/moxd.log" 2>&1 &
MOXD_PID=$!
ctl() { timeout 30 "$MOXCTL_BIN" --socket "$W/moxd/ctl" "$@"; }
for ((i = 0; ; i++)); do
    kill -0 "$MOXD_PID" 2>/dev/null || die "moxd serve exited: $(tail -n 20 "$W/moxd.log")"
    port_open "$MOXD_PORT" && ctl status >/dev/null 2>&1 && break
    ((i < START_TIMEOUT * 5)) || die "moxd not ready after ${START_TIMEOUT}s: $(tail -n 20 "$W/moxd.log")"
    sleep 0.2
done

# --- Postfix: private instance, durable Maildir delivery ---------------------
# The settings of ../shared/tools/postfix-setup.sh MODE=maildir, in a config
# directory of its own (never /etc/postfix) with its own queue, and the
# Maildir in the work directory (mail_spool_directory ending in "/": local(8)
# delivers as user bench into $PF/maildir/bench/, fsync before rename).
mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/maildir"
chown postfix "$PF/data"
chown bench "$PF/maildir"
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mx.bench.test
mydomain = bench.test
myorigin = \$mydomain
mydestination = \$myhostname, localhost, bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
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
smtpd_tls_security_level = none
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
local_transport = local:\$myhostname
queue_directory = $PF/spool
data_directory = $PF/data
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
biff = no
EOF
cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
proxywrite unix - - n -  1 proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
timeout 30 postfix -c "$PF/etc" check || die "postfix -c $PF/etc check failed (see $PF/postfix.log)"
timeout 30 postfix -c "$PF/etc" start || die "postfix -c $PF/etc start failed (see $PF/postfix.log)"
for ((i = 0; ; i++)); do
    port_open "$PF_PORT" && break
    ((i < START_TIMEOUT * 5)) || die "Postfix not listening on $PF_PORT after ${START_TIMEOUT}s"
    sleep 0.2
done
PF_MASTER=$(head -n 1 "$PF/spool/pid/master.pid" | tr -d ' ')
MAILDIR=$PF/maildir/bench

# --- measuring helpers --------------------------------------------------------
moxd_pids() { # "role pid" lines: the master and every worker
    ctl status --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print("master", s["master_pid"])
for w in s["workers"]:
    if w.get("pid"):
        print(w["role"], w["pid"])'
}

cpu_ticks() { # utime+stime (+ cutime+cstime with -c) of the given pids
    local with_children=0
    [ "$1" = -c ] && with_children=1 && shift
    "$PY" - "$with_children" "$@" <<'PY'
import sys
kids, total = sys.argv[1] == "1", 0
for pid in sys.argv[2:]:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    # fields after the command: state is f[0]; utime=f[11], stime=f[12], cutime=f[13], cstime=f[14]
    total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if kids else 0)
print(total)
PY
}

postfix_pids() { # the Postfix master and its children
    echo "$PF_MASTER"
    local p
    for p in /proc/[0-9]*; do
        [ "$(awk '{ print $4 }' "$p/stat" 2>/dev/null || true)" = "$PF_MASTER" ] && echo "${p#/proc/}"
    done
    return 0
}

postfix_ticks() { # Postfix master incl. reaped children + live children
    # shellcheck disable=SC2046
    echo $(($(cpu_ticks -c "$PF_MASTER") + $(cpu_ticks $(postfix_pids | tail -n +2))))
}

maildir_count() {
    find "$MAILDIR/new" "$MAILDIR/cur" -type f 2>/dev/null | wc -l
}

queue_count() {
    find "$PF/spool/incoming" "$PF/spool/active" "$PF/spool/deferred" "$PF/spool/maildrop" -type f 2>/dev/null | wc -l
}

moxd_count() { # messages in account bench
    ctl account list | awk -F'\t' '$1 == "bench" { split($2, a, " "); print a[1] }'
}

source_run() { # source_run PORT MESSAGES: smtp-source, prints wall seconds
    local t0 t1
    t0=$(date +%s.%N)
    timeout "$RUN_TIMEOUT" smtp-source -d -s "$SESSIONS" -m "$2" -l "$SIZE" \
        -f "$FROM" -t "$RCPT" -S "smtp-accept bench" "127.0.0.1:$1" >/dev/null 2>"$W/source.err" ||
        die "smtp-source against port $1 failed: $(tail -n 5 "$W/source.err")"
    t1=$(date +%s.%N)
    "$PY" -c "print(f'{$t1 - $t0:.3f}')"
}

sample_rss() { # sample_rss OUT PID...: "pid kB" lines until killed
    local out=$1
    shift
    while :; do
        for pid in "$@"; do
            awk -v p="$pid" '/^VmRSS:/ { print p, $2 }' "/proc/$pid/status" 2>/dev/null || true
        done >>"$out"
        sleep "$SAMPLE_INTERVAL"
    done
}

CLK_TCK=$(getconf CLK_TCK)

# --- warm-up (not measured) ---------------------------------------------------
if [ "$WARMUP" -gt 0 ]; then
    echo "warm-up: $WARMUP messages to each"
    source_run "$MOXD_PORT" "$WARMUP" >/dev/null
    source_run "$PF_PORT" "$WARMUP" >/dev/null
    for ((i = 0; "$(queue_count)" != 0; i++)); do
        ((i < DRAIN_TIMEOUT * 5)) || die "Postfix queue not drained after warm-up"
        sleep 0.2
    done
fi

settle() { # let earlier writes reach the disk before a measured run
    sync
    sleep 1
}
secs_between() { # secs_between T0 T1 (date +%s.%N)
    "$PY" -c "print(f'{$2 - $1:.3f}')"
}
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

mapfile -t roles < <(moxd_pids)
pids=()
for r in "${roles[@]}"; do pids+=("${r#* }"); done
mox_before=$(moxd_count)
pf_before=$(maildir_count)
mox_secs=() pf_secs=() pf_e2e=()
mox_ticks=0 pf_ticks_accept=0 pf_ticks=0

# --- the measured rounds, alternating moxd and Postfix -------------------------
# Each round sends PER_ROUND messages to moxd, then to Postfix and waits until
# Postfix has delivered them; alternating keeps a change in the machine's
# other load from favouring one of them.
for ((round = 1; round <= ROUNDS; round++)); do
    settle
    echo "round $round/$ROUNDS: moxd, $PER_ROUND messages, $SESSIONS sessions, $SIZE bytes, port $MOXD_PORT"
    c0=$(cpu_ticks "${pids[@]}")
    sample_rss "$W/rss.samples" "${pids[@]}" &
    SAMPLER_PID=$!
    mox_secs+=("$(source_run "$MOXD_PORT" "$PER_ROUND")")
    kill "$SAMPLER_PID"
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=
    mox_ticks=$((mox_ticks + $(cpu_ticks "${pids[@]}") - c0))

    settle
    echo "round $round/$ROUNDS: Postfix, $PER_ROUND messages, $SESSIONS sessions, $SIZE bytes, port $PF_PORT"
    want=$(($(maildir_count) + PER_ROUND))
    c0=$(postfix_ticks)
    t0=$(date +%s.%N)
    pf_secs+=("$(source_run "$PF_PORT" "$PER_ROUND")")
    pf_ticks_accept=$((pf_ticks_accept + $(postfix_ticks) - c0))
    for ((i = 0; ; i++)); do
        [ "$(queue_count)" = 0 ] && [ "$(maildir_count)" -ge "$want" ] && break
        ((i < DRAIN_TIMEOUT * 10)) || die "Postfix did not deliver $PER_ROUND messages within ${DRAIN_TIMEOUT}s"
        sleep 0.1
    done
    t1=$(date +%s.%N)
    pf_ticks=$((pf_ticks + $(postfix_ticks) - c0))
    pf_e2e+=("$(secs_between "$t0" "$t1")")
done

mox_stored=$(($(moxd_count) - mox_before))
[ "$mox_stored" = "$MESSAGES" ] || die "moxd stored $mox_stored messages, smtp-source sent $MESSAGES"
pf_delivered=$(($(maildir_count) - pf_before))
[ "$pf_delivered" = "$MESSAGES" ] || die "Postfix delivered $pf_delivered messages, smtp-source sent $MESSAGES"
hwm=()
for r in "${roles[@]}"; do
    hwm+=("${r% *}=$(awk '/^VmHWM:/ { print $2 }' "/proc/${r#* }/status")")
done
mapfile -t roles_after < <(moxd_pids)
[ "${roles_after[*]}" = "${roles[*]}" ] || die "a moxd process was restarted during the run: ${roles[*]} -> ${roles_after[*]}"

# --- report -------------------------------------------------------------------
mkdir -p "$here/results"
"$PY" - "$here/results/latest.json" <<PY
import json, os, platform, subprocess, sys
from collections import defaultdict

n, tck = $MESSAGES, $CLK_TCK
rounds = {"moxd_accept_seconds": [$(IFS=,; echo "${mox_secs[*]}")],
          "postfix_accept_seconds": [$(IFS=,; echo "${pf_secs[*]}")],
          "postfix_delivered_seconds": [$(IFS=,; echo "${pf_e2e[*]}")]}
mox_secs, pf_secs, pf_e2e = (round(sum(v), 3) for v in rounds.values())
roles = {pid: role for role, pid in (l.split(" ", 1) for l in """$(printf '%s\n' "${roles[@]}")""".splitlines())}
peak = defaultdict(int)
samples = 0
for line in open("$W/rss.samples"):
    pid, kb = line.split()
    peak[roles.get(pid, pid)] = max(peak[roles.get(pid, pid)], int(kb))
    samples += 1
hwm = dict(x.split("=") for x in "${hwm[*]}".split())
mox_cpu = $mox_ticks / tck
pf_cpu_accept = $pf_ticks_accept / tck
pf_cpu = $pf_ticks / tck
res = {
    "date": subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"], capture_output=True, text=True).stdout.strip(),
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                "filesystem": subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", "$W"], capture_output=True, text=True).stdout.strip(),
                "loadavg_before": "$LOADAVG", "loadavg_after": "$(cut -d' ' -f1-3 /proc/loadavg)"},
    "load": {"messages": n, "sessions": $SESSIONS, "message_bytes": $SIZE, "reuse_connections": True,
             "warmup_messages": $WARMUP, "rounds": $ROUNDS, "tool": "smtp-source"},
    "rounds": rounds,
    "moxd": {
        "version": subprocess.run(["$MOXD_BIN", "--version"], capture_output=True, text=True).stdout.strip(),
        "accept_seconds": mox_secs, "accepted_per_second": round(n / mox_secs, 1),
        "cpu_seconds": round(mox_cpu, 3), "cpu_seconds_per_1000": round(mox_cpu * 1000 / n, 3),
        "peak_rss_kib_sampled": dict(peak), "rss_samples": samples, "vm_hwm_kib": {k: int(v) for k, v in hwm.items()},
    },
    "postfix": {
        "version": subprocess.run(["postconf", "-c", "$PF/etc", "-h", "mail_version"], capture_output=True, text=True).stdout.strip(),
        "accept_seconds": pf_secs, "accepted_per_second": round(n / pf_secs, 1),
        "delivered_seconds": pf_e2e, "delivered_per_second": round(n / pf_e2e, 1),
        "cpu_seconds_accept": round(pf_cpu_accept, 3),
        "cpu_seconds_to_delivered": round(pf_cpu, 3), "cpu_seconds_per_1000_to_delivered": round(pf_cpu * 1000 / n, 3),
    },
}
res["ratio_accept_moxd_over_postfix"] = round(res["moxd"]["accepted_per_second"] / res["postfix"]["accepted_per_second"], 2)
res["ratio_moxd_accept_over_postfix_delivered"] = round(res["moxd"]["accepted_per_second"] / res["postfix"]["delivered_per_second"], 2)
with open(sys.argv[1], "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")

m, p = res["moxd"], res["postfix"]
print()
print(f"SMTP accept, {n} messages of {$SIZE} B to each, {$SESSIONS} sessions (smtp-source -d), {$ROUNDS} alternating rounds, {res['machine']['cpus']} CPUs, {res['machine']['filesystem']}")
print(f"{'':34}{'moxd':>12}{'Postfix':>12}{'moxd/Postfix':>14}")
print(f"{'accepted msgs/s (250 after fsync)':34}{m['accepted_per_second']:>12.0f}{p['accepted_per_second']:>12.0f}{res['ratio_accept_moxd_over_postfix']:>14.2f}")
print(f"{'in the mailbox msgs/s':34}{m['accepted_per_second']:>12.0f}{p['delivered_per_second']:>12.0f}{res['ratio_moxd_accept_over_postfix_delivered']:>14.2f}")
print(f"{'CPU s per 1000 msgs (to mailbox)':34}{m['cpu_seconds_per_1000']:>12.3f}{p['cpu_seconds_per_1000_to_delivered']:>12.3f}{m['cpu_seconds_per_1000'] / max(p['cpu_seconds_per_1000_to_delivered'], 1e-9):>14.2f}")
per = n // $ROUNDS
print("accepted msgs/s per round:  moxd " + " ".join(f"{per / t:.0f}" for t in rounds["moxd_accept_seconds"])
      + ";  Postfix " + " ".join(f"{per / t:.0f}" for t in rounds["postfix_accept_seconds"]))
print("moxd peak RSS per process (sampled VmRSS / VmHWM, MiB):")
for role in m["vm_hwm_kib"]:
    print(f"  {role:12} {m['peak_rss_kib_sampled'].get(role, 0) / 1024:7.1f} / {m['vm_hwm_kib'][role] / 1024:7.1f}")
print(f"({m['version']}; Postfix {p['version']}; load average before/after: {res['machine']['loadavg_before']} / {res['machine']['loadavg_after']}; JSON: bench/results/latest.json)")
PY
