#!/usr/bin/env bash
# Runs the demo on the built-in simulator. Usage: scripts/demo.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
cargo build -p gu1-kyc-proxy --quiet
echo "The onboarding pages (www/) arrive with the demo issue; the simulator runs meanwhile:"
exec "$root/target/debug/gu1-kyc-proxy" simulate
