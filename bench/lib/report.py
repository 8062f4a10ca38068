#!/usr/bin/env python3
"""Turns bench/run's results file into the printed table and latest.json.

  report.py RESULTS.jsonl OUT.json

One row per figure and peer: moxd's median, the peer's median, the ratio
moxd/peer, and min/median/max over the repeats of each. Arrows say which
way is better (↑: more is better, so a ratio above 1 favours moxd; ↓: less
is better). Rows whose repeats spread by more than NOISY of their median
are marked `~`. Below the table: memory per process, and the notes.
"""

import json
import os
import platform
import statistics
import sys

# (max - min) / median above which a figure is marked noisy.
NOISY = 0.25
PEER_NAMES = {"postfix": "Postfix", "opensmtpd": "OpenSMTPD", "dovecot": "Dovecot"}
SMTP_PEERS = ["postfix", "opensmtpd"]


def size_label(n):
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def rows_for(values):
    """The table's rows: (id, title, unit, higher_is_better, peers)."""
    rows = []
    for c in (20,):
        rows += [
            (f"smtp_accept_c{c}", f"(1) SMTP accepted, {c} conns, 4 KiB", "msg/s", True, SMTP_PEERS),
            (f"smtp_mailbox_c{c}", f"(1) SMTP in the mailbox, {c} conns", "msg/s", True, SMTP_PEERS),
            (f"smtp_cpu_c{c}", "(1) CPU s per 1000 msgs to the mailbox", "s", False, SMTP_PEERS),
        ]
    rows += [
        ("outbound", "(2) submission -> queue -> smtp-sink", "msg/s", True, ["postfix"]),
        ("outbound_cpu", "(2) CPU s per 1000 msgs", "s", False, ["postfix"]),
        ("imaptest_default", "(3) imaptest default profile", "cmd/s", True, ["dovecot"]),
        ("imaptest_logout0", "(3) imaptest logout=0", "cmd/s", True, ["dovecot"]),
    ]
    sizes = sorted({int(f.rsplit("_", 1)[1]) for (f, _) in values if f.startswith("imap_select_")})
    if sizes:
        big = sizes[-1]
        rows += [
            (f"imap_select_{big}", f"(3) SELECT, {size_label(big)} msgs", "ms", False, ["dovecot"]),
            (f"imap_fetch_{big}", f"(3) UID FETCH 1:* (FLAGS), {size_label(big)}", "ms", False, ["dovecot"]),
            (f"imap_search_{big}", f"(3) UID SEARCH TEXT, {size_label(big)}", "ms", False, ["dovecot"]),
        ]
    rows += [
        ("mem_idle", "(4) memory idle, sum of PSS", "MiB", False, SMTP_PEERS + ["dovecot"]),
        ("mem_smtp", "(4) peak memory during (1), PSS", "MiB", False, SMTP_PEERS),
        ("mem_imap", "(4) peak memory during (3), PSS", "MiB", False, ["dovecot"]),
    ]
    for c in (1, 100):
        rows.append((f"smtp_accept_c{c}", f"(5) SMTP accepted, {c} conn{'s' if c > 1 else ''}", "msg/s", True, SMTP_PEERS))
        rows.append((f"smtp_mailbox_c{c}", f"(5) SMTP in the mailbox, {c} conn{'s' if c > 1 else ''}", "msg/s", True, SMTP_PEERS))
    for n in sizes[:-1]:
        rows.append((f"imap_select_{n}", f"(5) SELECT, {size_label(n)} msgs", "ms", False, ["dovecot"]))
        rows.append((f"imap_fetch_{n}", f"(5) UID FETCH 1:* (FLAGS), {size_label(n)}", "ms", False, ["dovecot"]))
        rows.append((f"imap_search_{n}", f"(5) UID SEARCH TEXT, {size_label(n)}", "ms", False, ["dovecot"]))
    return rows


def stats(vals):
    if not vals:
        return None
    return {"values": vals, "min": min(vals), "median": statistics.median(vals), "max": max(vals)}


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if a >= 1 else f"{v:.3f}"


def mmm(s):
    return "n/a" if s is None else f"{fmt(s['min'])}/{fmt(s['median'])}/{fmt(s['max'])}"


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    values, memory, notes, info = {}, {}, [], {}
    for line in open(argv[1]):
        rec = json.loads(line)
        if rec["kind"] == "value":
            values[(rec["figure"], rec["system"])] = rec["values"]
        elif rec["kind"] == "memory":
            memory[rec["phase"]] = rec["summary"]
        elif rec["kind"] == "note":
            notes.append(rec["text"])
        elif rec["kind"] == "info":
            info[rec["key"]] = rec["value"]
    for phase, summary in memory.items():
        for system, d in summary["systems"].items():
            if d["processes"]:
                values[(f"mem_{phase}", system)] = [round(d["total_pss_kib"] / 1024, 1)]

    figures, lines = [], []
    head = f"{'figure':41} {'unit':7} {'moxd':>7}  {'peer':9} {'peer':>7} {'moxd/peer':>9}  {'moxd min/med/max':>20}  {'peer min/med/max':>20}"
    lines += [head, "-" * len(head)]
    for fid, title, unit, higher, peers in rows_for(values):
        m = stats(values.get((fid, "moxd"), []))
        for peer in peers:
            if (fid, peer) not in values:
                continue
            p = stats(values[(fid, peer)])
            ratio = round(m["median"] / p["median"], 2) if m and p and p["median"] else None
            noisy = any(s and s["median"] and (s["max"] - s["min"]) / s["median"] > NOISY for s in (m, p))
            figures.append({"id": fid, "title": title, "unit": unit, "higher_is_better": higher,
                            "peer": peer, "moxd": m, "peer_stats": p, "ratio_moxd_over_peer": ratio,
                            "noisy": noisy})
            arrow = "↑" if higher else "↓"
            lines.append(
                f"{title[:41]:41} {unit + arrow:7} {fmt(m and m['median']):>7}  {PEER_NAMES[peer]:9} "
                f"{fmt(p and p['median']):>7} {fmt(ratio):>9}{'~' if noisy else ' '} {mmm(m):>20}  {mmm(p):>20}"
            )
    lines.append("↑ more is better (ratio > 1 favours moxd), ↓ less is better (ratio < 1 favours moxd); "
                 f"~ repeats spread by more than {NOISY:.0%} of the median.")

    if memory:
        lines += ["", "RSS per process, MiB (peak of VmRSS/VmHWM; xN = most processes at once):"]
        for phase in ("idle", "smtp", "imap"):
            if phase not in memory:
                continue
            for system, d in memory[phase]["systems"].items():
                procs = sorted(d["processes"].items(), key=lambda kv: -kv[1]["peak_rss_kib"])
                if not procs:
                    continue
                parts = ", ".join(
                    f"{lab} {v['peak_rss_kib'] / 1024:.1f}" + (f" x{v['count']}" if v["count"] > 1 else "")
                    for lab, v in procs
                )
                lines.append(f"  {phase:5} {system:10} RSS sum {d['total_rss_kib'] / 1024:6.1f}, PSS sum "
                             f"{d['total_pss_kib'] / 1024:6.1f}: {parts}")
    if notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in notes]

    out = {
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), **{k: v for k, v in info.items()}},
        "figures": figures,
        "memory": memory,
        "notes": notes,
    }
    with open(argv[2], "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv)
