# shellcheck shell=bash
# A private NSD (authoritative DNS) for the interop scripts that need DNS
# (sourced; defines functions only, no side effects).

# nsd_start DIR IP WAIT QNAME QTYPE ZONE...: serve each ZONE (a zone name
# whose file DIR/ZONE.zone is written already) on IP:53 from DIR, as this
# user, in the foreground in the background; sets NSD_PID. Returns once a
# query for QNAME (QTYPE: a numeric type, e.g. 15 for MX) is answered,
# failing after WAIT seconds or on a bad zone file.
nsd_start() {
    local dir=$1 ip=$2 wait=$3 qname=$4 qtype=$5 zone
    shift 5
    {
        cat <<CONF
server:
  ip-address: $ip@53
  username: ""
  zonesdir: "$dir"
  database: ""
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  xfrdfile: "$dir/xfrd.state"
  zonelistfile: "$dir/zone.list"
remote-control:
  control-enable: no
CONF
        for zone in "$@"; do
            printf 'zone:\n  name: %s\n  zonefile: %s.zone\n' "$zone" "$zone"
        done
    } >"$dir/nsd.conf"
    nsd-checkconf "$dir/nsd.conf" || { echo "nsd.conf is invalid" >&2; return 1; }
    for zone in "$@"; do
        nsd-checkzone "$zone" "$dir/$zone.zone" >/dev/null ||
            { echo "zone $zone is invalid: $(cat "$dir/$zone.zone")" >&2; return 1; }
    done
    nsd -d -c "$dir/nsd.conf" >"$dir/nsd.out" 2>&1 &
    # shellcheck disable=SC2034 # read by the caller
    NSD_PID=$!
    python3 - "$ip" "$wait" "$qname" "$qtype" <<'PY' || { echo "NSD does not answer on $ip:53" >&2; return 1; }
import socket, struct, sys, time
ip, wait, qname, qtype = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
# Any answer with our id and at least one answer record will do.
q = struct.pack(">HHHHHH", 0x4d58, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in qname.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
t0 = time.time()
while time.time() - t0 < wait:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(q, (ip, 53))
        r, _ = s.recvfrom(4096)
        if r[:2] == b"\x4d\x58" and struct.unpack(">H", r[6:8])[0] >= 1:
            sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
}
