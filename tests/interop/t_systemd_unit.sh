#!/usr/bin/env bash
# systemd's own checks of the shipped unit: `systemd-analyze verify` (unknown
# keys, the ExecStart binary) and the offline hardening score, which must
# stay at or below 3.0 ("OK").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
unit=$(mktemp -d)/moxd.service
sed "s#/usr/bin/moxd#$MOXD_BIN#" "$here/../../systemd/moxd.service" > "$unit"
systemd-analyze verify "$unit"
systemd-analyze security --offline=yes --threshold=30 --no-pager "$unit" | tail -1
