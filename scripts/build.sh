#!/usr/bin/env bash
# Builds the npm package into pkg/ (wasm-pack, release, wasm-opt from tools/) and prints the
# sizes a page loads. Usage: scripts/build.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
wasm-pack --quiet build --target web --release
for f in pkg/gu1_kyc_web_bg.wasm pkg/gu1_kyc_web.js; do
  printf '%-28s %7d bytes  %6d gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
