#!/usr/bin/env bash
# The demo: builds the package, the proxy and the demo pages, then serves them on 127.0.0.1 with
# the built-in gu1 simulator. Usage: scripts/demo.sh   (Ctrl-C to stop)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/build-www.sh
cargo build -p gu1-kyc-proxy --quiet
port=${GU1_DEMO_PORT:-8787}
hosted=${GU1_DEMO_HOSTED_PORT:-8788}
cat <<MSG

  gu1-kyc-web demo (simulated gu1; the hosted capture page is on a second origin)

    drop-in script tag:  http://127.0.0.1:$port/
    npm import (Vite):   http://127.0.0.1:$port/npm/

  Press Approve, Reject or Abandon inside the capture window. Add ?ttl=10 to see expiry,
  ?kind=kyc for a KYC validation instead of a biometric session.

MSG
exec "$root/target/debug/gu1-kyc-proxy" simulate --listen "127.0.0.1:$port" --hosted-listen "127.0.0.1:$hosted" --www www --pkg pkg
