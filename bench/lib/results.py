#!/usr/bin/env python3
"""Appends one measurement of bench/run to its results file (JSON lines).

  results.py add FILE FIGURE SYSTEM VALUE...   one value per repeat
  results.py memory FILE PHASE SUMMARY.json    a procstat.py summary
  results.py note FILE TEXT...                 a remark printed under the table
  results.py info FILE KEY VALUE               run information (versions, load)

bench/lib/report.py turns the file into the table and latest.json.
"""

import json
import sys


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    cmd, path = argv[1], argv[2]
    if cmd == "add" and len(argv) >= 5:
        values = [float(v) for v in argv[5:]]
        rec = {"kind": "value", "figure": argv[3], "system": argv[4], "values": values}
    elif cmd == "memory" and len(argv) == 5:
        with open(argv[4]) as f:
            rec = {"kind": "memory", "phase": argv[3], "summary": json.load(f)}
    elif cmd == "note":
        rec = {"kind": "note", "text": " ".join(argv[3:])}
    elif cmd == "info" and len(argv) == 5:
        rec = {"kind": "info", "key": argv[3], "value": argv[4]}
    else:
        sys.exit(__doc__)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main(sys.argv)
