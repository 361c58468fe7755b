#!/usr/bin/env bash
# Builds the npm package into pkg/ (wasm-pack, release, wasm-opt from tools/), adds the drop-in
# loader, and prints the sizes a page loads. Usage: scripts/build.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
wasm-pack --quiet build --target web --release
cp js/gu1-kyc.js pkg/gu1-kyc.js
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  if (!p.files.includes("gu1-kyc.js")) p.files.push("gu1-kyc.js");
  p.exports = { ".": { types: "./gu1_kyc_web.d.ts", default: "./gu1_kyc_web.js" },
                "./gu1-kyc.js": "./gu1-kyc.js", "./gu1_kyc_web_bg.wasm": "./gu1_kyc_web_bg.wasm",
                "./package.json": "./package.json" };
  fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
'
for f in pkg/gu1_kyc_web_bg.wasm pkg/gu1_kyc_web.js pkg/gu1-kyc.js; do
  printf '%-28s %7d bytes  %6d gzip\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
