#!/usr/bin/env bash
# localserve from a user's point of view: start it as documented, wait for
# the banner, drive moxctl from Python's subprocess, deliver a message and
# read the account list back, then stop it with SIGTERM.
set -euo pipefail
dir=$(mktemp -d)
python3 - "$MOXD_BIN" "$MOXCTL_BIN" "$dir" <<'PY'
import subprocess, sys, time, signal, os
moxd, moxctl, d = sys.argv[1:4]
p = subprocess.Popen([moxd, "localserve", "--dir", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
out = []
t0 = time.time()
while time.time() - t0 < 60:
    line = p.stdout.readline()
    if not line:
        break
    out.append(line)
    if "moxd localserve ready" in line:
        break
assert any("ready" in l for l in out), "".join(out)
def ctl(*args, stdin=None):
    r = subprocess.run([moxctl, "--socket", os.path.join(d, "ctl"), *args], input=stdin, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout
st = ctl("status")
assert "store" in st and "running" in st, st
r = ctl("deliver", "someone@example.com", stdin="Subject: interop\r\n\r\nhello\r\n")
assert "delivered: uid 1" in r, r
acc = ctl("account", "list")
assert "mox\t1 messages" in acc, acc
p.send_signal(signal.SIGTERM)
assert p.wait(timeout=60) == 0
print("localserve ok:", st.splitlines()[0])
PY
