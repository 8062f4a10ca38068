#!/usr/bin/env bash
# Median time moxd spends on message authentication per message with a
# warm DNS cache (SPF for MAIL FROM and HELO, DKIM with an Ed25519 and an
# RSA-2048 signature, DMARC, iprev, one DNSBL), against a local test DNS
# server. Release build; prints median, p90, min, max and sequential
# throughput. No peer runs the same checks the same way, so this is an
# absolute figure for this machine: compare runs, not machines.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p policy --example policy_eval
