#!/usr/bin/env bash
# Benchmarks beside the peer SDKs: weight, time to iframe, time to result, backend load, proxy
# capacity, memory. Writes bench/results/report.md and chart.svg. Usage: scripts/bench.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
bash scripts/setup.sh
if ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
bash scripts/build.sh
# Reproducible bytes: two release builds from fresh clones compared file by file (about 5 min).
bash scripts/repro.sh 2>&1 | tee "$root/target/repro.log" | tail -n 18
cargo build --release -p gu1-kyc-proxy --quiet
(cd bench && npm ci --no-audit --no-fund --loglevel=error)
# bench/hold.mjs holds 10,000 requests at once: one socket each, in its process and the proxy's.
ulimit -n 20000
node bench/run.mjs
