#!/usr/bin/env python3
"""CPU time and memory of whole process trees, read from /proc.

bench/run measures each mail server as the tree under its main process
(moxd's master and workers, Postfix's master and its daemons, OpenSMTPD's
parent and its children, Dovecot's master and its login/imap/auth
processes), so short-lived children count too.

  procstat.py ticks ROOT...            utime+stime+cutime+cstime of the trees
  procstat.py clear-hwm ROOT...        reset every process's VmHWM (peak RSS)
  procstat.py snapshot OUT SYS=ROOT... one sample, summary as JSON in OUT
  procstat.py sample OUT SYS=ROOT...   sample every INTERVAL s until SIGTERM

CPU: a live process's cutime/cstime hold its reaped children, so the sum of
all four fields over the live tree counts every process that ran in it, once.
Memory: per process label the largest VmHWM (peak RSS since start or since
clear-hwm) and the largest count at once; per system the largest sum of RSS
and of PSS (PSS shares pages among the processes mapping them) in a sample.
"""

import json
import os
import signal
import sys
import time

# Seconds between samples.
INTERVAL = float(os.environ.get("PROCSTAT_INTERVAL", "0.2"))
# Longest a sampler runs, in case nobody stops it.
MAX_SAMPLE_SECS = 3600


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (state is [0])."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def parents():
    """pid -> ppid of every live process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                out[int(name)] = int(stat_fields(name)[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def trees(roots):
    """The pids of the trees under roots (roots included)."""
    ppid = parents()
    kids = {}
    for pid, parent in ppid.items():
        kids.setdefault(parent, []).append(pid)
    seen, todo = set(), [r for r in roots if r in ppid]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(kids.get(pid, ()))
    return seen


def ticks(roots):
    total = 0
    for pid in trees(roots):
        try:
            f = stat_fields(pid)
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat(5).
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total


def label(pid):
    """moxd: master or worker role; a process title like "smtpd: queue"
    (OpenSMTPD) as it stands; others: the command name."""
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        comm = open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in args if a]
    if args and os.path.basename(args[0]) == "moxd":
        if "worker" in args[1:-1]:
            return args[args.index("worker") + 1]
        return "master"
    if args and ": " in args[0]:
        return " ".join(args)[:40]
    return comm


def status_kib(pid, keys):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in keys:
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Summary:
    def __init__(self, systems):
        self.systems = systems  # name -> [root pids]
        self.data = {name: {"total_rss_kib": 0, "total_pss_kib": 0, "processes": {}} for name in systems}
        self.samples = 0

    def sample(self):
        self.samples += 1
        for name, roots in self.systems.items():
            d = self.data[name]
            rss_sum = pss_sum = 0
            counts = {}
            for pid in trees(roots):
                lab = label(pid)
                st = status_kib(pid, ("VmRSS", "VmHWM"))
                if lab is None or "VmRSS" not in st:
                    continue  # gone, or a kernel thread
                rss_sum += st["VmRSS"]
                pss_sum += pss_kib(pid)
                counts[lab] = counts.get(lab, 0) + 1
                p = d["processes"].setdefault(lab, {"peak_rss_kib": 0, "count": 0})
                p["peak_rss_kib"] = max(p["peak_rss_kib"], st["VmRSS"], st.get("VmHWM", 0))
            for lab, n in counts.items():
                d["processes"][lab]["count"] = max(d["processes"][lab]["count"], n)
            d["total_rss_kib"] = max(d["total_rss_kib"], rss_sum)
            d["total_pss_kib"] = max(d["total_pss_kib"], pss_sum)

    def write(self, path):
        with open(path, "w") as f:
            json.dump({"samples": self.samples, "systems": self.data}, f, indent=1)
            f.write("\n")


def parse_systems(args):
    systems = {}
    for a in args:
        name, _, pids = a.partition("=")
        systems.setdefault(name, []).extend(int(p) for p in pids.split(",") if p)
    return systems


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, rest = argv[1], argv[2:]
    if cmd == "ticks":
        print(ticks([int(p) for p in rest]))
    elif cmd == "clear-hwm":
        for pid in trees([int(p) for p in rest]):
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")  # proc(5): 5 resets the peak RSS (VmHWM)
            except OSError:
                pass
    elif cmd in ("snapshot", "sample"):
        out, systems = rest[0], parse_systems(rest[1:])
        s = Summary(systems)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        deadline = time.monotonic() + MAX_SAMPLE_SECS
        s.sample()
        while cmd == "sample" and not stop and time.monotonic() < deadline:
            time.sleep(INTERVAL)
            s.sample()
        s.write(out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
